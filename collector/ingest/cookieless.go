package ingest

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
)

// Cookieless counting (docs/identity.md#cookieless-visits): a browser that may not keep
// cookies yet (no consent) still reports page views, with no ids. The
// collector derives its visitor from HMAC(salt, site, IP, user agent) with
// a salt that lives only in this process's memory and is replaced every
// UTC day, so that such visits are counted but cannot be followed beyond
// a day, nor joined to anything once the salt is gone. Cookieless visits
// are anonymous: no key, no identity, no visitor data.

// cookielessKey is stored as the key hash of a derived visitor: no key
// matches it, so nobody can claim the visitor by presenting its id.
const cookielessKey = "cookieless"

// dailySalt is the in-memory salt of cookieless visitors.
type dailySalt struct {
	mu   sync.Mutex
	day  int64 // UTC day the salt is for (Unix days)
	salt []byte
	rand io.Reader
}

// visitor returns the derived visitor id for site, ip and userAgent at
// now: a ULID whose time is the start of the day and whose random part is
// the HMAC's, so that ids sort with the day and cannot be reversed.
func (d *dailySalt) visitor(now time.Time, site, ip, userAgent string) (string, error) {
	day := now.UTC().Unix() / 86400
	d.mu.Lock()
	if d.salt == nil || d.day != day {
		salt := make([]byte, 32)
		if _, err := io.ReadFull(d.rand, salt); err != nil {
			d.mu.Unlock()
			return "", fmt.Errorf("cookieless salt: %w", err)
		}
		d.salt, d.day = salt, day
	}
	mac := hmac.New(sha256.New, d.salt)
	d.mu.Unlock()
	for _, s := range []string{site, ip, userAgent} {
		mac.Write([]byte(s))
		mac.Write([]byte{0})
	}
	sum := mac.Sum(nil)
	var id ulid.ULID
	if err := id.SetTime(uint64(day * 86400 * 1000)); err != nil {
		return "", fmt.Errorf("cookieless id: %w", err)
	}
	copy(id[6:], sum[:10])
	return id.String(), nil
}

// cookielessClient replaces what a cookieless client sent with what the
// collector derives: the day's visitor of its site, address and user
// agent, and that visitor's open visit, if any. Nothing it named counts.
func (in *Ingester) cookielessClient(ctx context.Context, b *batch, j *job) error {
	c := &j.client
	visitorID, err := in.salt.visitor(j.receivedAt, c.Site, c.IP, c.UserAgent)
	if err != nil {
		return err
	}
	visitID, err := in.cfg.Store.OpenVisitOf(ctx, b.q, visitorID)
	if err != nil {
		return err
	}
	c.VisitorID, c.VisitID, c.VisitorKey, c.Recognition, c.Held = visitorID, visitID, "", nil, nil
	return nil
}
