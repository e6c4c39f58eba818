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

	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/store"
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
	// Where nodes share the database, the visitor's lock: two nodes that
	// see it at once would each open a visit for it.
	if err := in.ownVisit(ctx, b, visitorID); err != nil {
		return err
	}
	visitID, err := in.cfg.Store.OpenVisitOf(ctx, b.q, visitorID)
	if err != nil {
		return err
	}
	c.VisitorID, c.VisitID, c.VisitorKey, c.Recognition, c.Held = visitorID, visitID, "", nil, nil
	return nil
}

// A cookieless visit stores nothing that identifies its visitor
// (docs/security.md): the address and user agent serve only to derive the
// day's visitor, in memory. What is stored is coarse: the page URLs
// without query or fragment, the referrer's origin, the campaign fields
// parsed from the landing URL before its query went, and the browser
// family with its major version, OS family, device type, bot flag and
// country. Region and city are not kept: with the rest they narrow a
// visitor down to a few people in a small town.

// redactOrigin strips a cookieless visit's origin, after its insight was
// drawn from all of it.
func redactOrigin(o *store.VisitOrigin) {
	o.IP, o.UserAgent = "", ""
	o.URL, o.Referrer = enrich.URLWithoutQuery(o.URL), enrich.ReferrerOrigin(o.Referrer)
	o.Insight.BrowserVersion = enrich.MajorVersion(o.Insight.BrowserVersion)
	o.Insight.Region, o.Insight.City = "", ""
}

// redactEvent strips an event of a cookieless visit before it is filed,
// its page too: the URL without query or fragment, the referrer's origin.
// It allocates nothing for the common URLs (see enrich.URLWithoutQuery).
func redactEvent(e *decodedEvent) {
	e.URL, e.Referrer = enrich.URLWithoutQuery(e.URL), enrich.ReferrerOrigin(e.Referrer)
}
