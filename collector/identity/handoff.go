package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Handoff tokens link a browser's journey from one site to another
// (docs/identity.md#cross-domain-handoff): the first site's tracker adds
// one to a link as _vt_x, and the collector, seeing it in the other site's
// hello or first /v1/collect, records where that browser came from.
//
// A token is a pointer, never a credential
// (docs/security.md#handoff-link): whoever made the link, the browser
// that follows it stays itself, with its own visitor, key and identity; nothing of the issuing
// browser (its key, its identity, its visitor data) carries over, so a
// link someone else made can never make a browser carry their identity.
//
// A token travels in a URL, where it may be logged or leak through a
// Referer, so it lives at most MaxHandoffTTL, is accepted once, and names
// only ids. It is "h2.<payload>.<mac>", both parts base64url without
// padding; the payload is the token id, the issuing visitorId and visitId
// and the expiry in Unix seconds, joined by newlines. The mac is
// HMAC-SHA256 over "h2." + payload with the recognition key; the prefix
// keeps a recognition token from ever passing for a handoff token, and
// the other way round.

// MaxHandoffTTL is the longest a handoff token lives.
const MaxHandoffTTL = 2 * time.Minute

// maxHandoffLen bounds what Verify reads: a real token is about 200 bytes.
const maxHandoffLen = 640

const handoffPrefix = "h2."

// ErrReused is returned by Redeem for a token already redeemed.
var ErrReused = errors.New("handoff token was used before")

// HandoffClaims are what a valid handoff token says: where the browser
// that follows it came from.
type HandoffClaims struct {
	ID        string // random; the key of single use
	VisitorID string // the issuing browser's visitor on the first site
	VisitID   string // and its visit there
	ExpiresAt time.Time
}

// Redeemer remembers redeemed token ids until they expire: the store's
// handoff_uses table, which works on SQLite and D1 alike.
type Redeemer interface {
	// RedeemHandoff records id and reports whether it was new.
	RedeemHandoff(ctx context.Context, id string, expiresAt time.Time) (bool, error)
}

// Handoffs issues and redeems handoff tokens with one key.
type Handoffs struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	random io.Reader
}

// NewHandoffs returns a Handoffs for key (the recognition key, at least
// MinKeyLen bytes). ttl is capped at MaxHandoffTTL; now and random default
// to the clock and crypto/rand.
func NewHandoffs(key []byte, ttl time.Duration, now func() time.Time, random io.Reader) (*Handoffs, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("identity: handoff key must be at least 32 bytes")
	}
	if ttl <= 0 || ttl > MaxHandoffTTL {
		ttl = MaxHandoffTTL
	}
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	return &Handoffs{key: key, ttl: ttl, now: now, random: random}, nil
}

// Issue returns a token that names the issuing browser's visitor and
// visit, and nothing else.
func (h *Handoffs) Issue(visitorID, visitID string) (string, error) {
	if visitorID == "" || strings.ContainsRune(visitorID+visitID, '\n') {
		return "", errors.New("issue handoff token: bad ids")
	}
	var id [16]byte
	if _, err := io.ReadFull(h.random, id[:]); err != nil {
		return "", fmt.Errorf("issue handoff token: %w", err)
	}
	payload := b64.EncodeToString(id[:]) + "\n" + visitorID + "\n" + visitID + "\n" +
		strconv.FormatInt(h.now().Add(h.ttl).Unix(), 10)
	body := handoffPrefix + b64.EncodeToString([]byte(payload))
	return body + "." + b64.EncodeToString(h.mac(body)), nil
}

// Verify checks the token's signature and expiry and returns its claims;
// it does not mark the token used (see Redeem). Errors are ErrMalformed,
// ErrSignature and ErrExpired.
func (h *Handoffs) Verify(token string) (HandoffClaims, error) {
	if len(token) > maxHandoffLen || !strings.HasPrefix(token, handoffPrefix) {
		return HandoffClaims{}, ErrMalformed
	}
	dot := strings.LastIndexByte(token, '.')
	if dot <= len(handoffPrefix) {
		return HandoffClaims{}, ErrMalformed
	}
	body, sig := token[:dot], token[dot+1:]
	mac, err := b64.DecodeString(sig)
	if err != nil {
		return HandoffClaims{}, ErrMalformed
	}
	if !hmac.Equal(mac, h.mac(body)) {
		return HandoffClaims{}, ErrSignature
	}
	raw, err := b64.DecodeString(body[len(handoffPrefix):])
	if err != nil {
		return HandoffClaims{}, ErrMalformed
	}
	parts := strings.Split(string(raw), "\n")
	if len(parts) != 4 || parts[0] == "" || parts[1] == "" {
		return HandoffClaims{}, ErrMalformed
	}
	exp, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil {
		return HandoffClaims{}, ErrMalformed
	}
	c := HandoffClaims{ID: parts[0], VisitorID: parts[1], VisitID: parts[2], ExpiresAt: time.Unix(exp, 0).UTC()}
	now := h.now()
	// A signed expiry beyond the longest lifetime was not made by Issue
	// as configured now (a longer TTL of an older version): refuse it.
	if !now.Before(c.ExpiresAt) || c.ExpiresAt.Sub(now) > MaxHandoffTTL+time.Second {
		return HandoffClaims{}, ErrExpired
	}
	return c, nil
}

// Redeem verifies the token and marks it used; a token is accepted once.
// Errors are those of Verify, ErrReused, or the store's.
func (h *Handoffs) Redeem(ctx context.Context, r Redeemer, token string) (HandoffClaims, error) {
	c, err := h.Verify(token)
	if err != nil {
		return HandoffClaims{}, err
	}
	fresh, err := r.RedeemHandoff(ctx, c.ID, c.ExpiresAt)
	if err != nil {
		return HandoffClaims{}, fmt.Errorf("redeem handoff token: %w", err)
	}
	if !fresh {
		return HandoffClaims{}, ErrReused
	}
	return c, nil
}

func (h *Handoffs) mac(body string) []byte {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(body))
	return m.Sum(nil)
}
