package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
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

// Handoff tokens carry a browser from one site to another
// (docs/identity.md#cross-domain-handoff): the first site's tracker adds one to a link as
// _vt_x, and the collector, seeing it in the other site's hello or first
// /v1/collect, lets that browser adopt the first site's visitor and, when
// it was verified there, its identity.
//
// A token travels in a URL, where it may be logged or leak through a
// Referer, so it lives at most MaxHandoffTTL, is accepted once, and names
// only ids, never a userId. It is "h1.<payload>.<mac>", both parts
// base64url without padding; the payload is the token id, the visitorId,
// the sealed browser key, the verified identityId (empty for none) and the
// expiry in Unix seconds, joined by newlines. The mac is HMAC-SHA256 over
// "h1." + payload with the recognition key; the prefix keeps a recognition
// token from ever passing for a handoff token, and the other way round.
//
// The browser key (docs/security.md#browser-key) must reach the other site's browser,
// or it would be an impostor of the visitor it adopts; the collector
// stores only its hash, so the token carries it, sealed with AES-GCM
// under a key derived from the recognition key: a logged URL shows no key.

// MaxHandoffTTL is the longest a handoff token lives.
const MaxHandoffTTL = 2 * time.Minute

// maxHandoffLen bounds what Verify reads: a real token is about 300 bytes.
const maxHandoffLen = 640

const handoffPrefix = "h1."

// ErrReused is returned by Redeem for a token already redeemed.
var ErrReused = errors.New("handoff token was used before")

// HandoffClaims are what a valid handoff token says.
type HandoffClaims struct {
	ID        string // random; the key of single use
	VisitorID string
	// VisitorKey is the visitor's browser key, for the adopting browser.
	VisitorKey string
	// IdentityID is the identity the browser was verified as on the first
	// site; empty when it was anonymous or only claimed an identity.
	IdentityID string
	ExpiresAt  time.Time
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
	aead   cipher.AEAD
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
	m := hmac.New(sha256.New, key)
	m.Write([]byte("visitrack handoff: browser key sealing"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("identity: handoff cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("identity: handoff cipher: %w", err)
	}
	return &Handoffs{key: key, aead: aead, ttl: ttl, now: now, random: random}, nil
}

// Issue returns a token for the visitor, its browser key (the one the
// browser proved, or was just given) and, when it is verified, its
// identity: callers pass "" for an anonymous browser or an unverified
// claim, which must not carry over.
func (h *Handoffs) Issue(visitorID, visitorKey, verifiedIdentityID string) (string, error) {
	if visitorID == "" || strings.ContainsRune(visitorID+verifiedIdentityID, '\n') {
		return "", errors.New("issue handoff token: bad ids")
	}
	var id [16]byte
	nonce := make([]byte, h.aead.NonceSize())
	if _, err := io.ReadFull(h.random, id[:]); err != nil {
		return "", fmt.Errorf("issue handoff token: %w", err)
	}
	if _, err := io.ReadFull(h.random, nonce); err != nil {
		return "", fmt.Errorf("issue handoff token: %w", err)
	}
	sealed := h.aead.Seal(nonce, nonce, []byte(visitorKey), []byte(visitorID))
	payload := b64.EncodeToString(id[:]) + "\n" + visitorID + "\n" + b64.EncodeToString(sealed) + "\n" + verifiedIdentityID + "\n" +
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
	if len(parts) != 5 || parts[0] == "" || parts[1] == "" {
		return HandoffClaims{}, ErrMalformed
	}
	exp, err := strconv.ParseInt(parts[4], 10, 64)
	if err != nil {
		return HandoffClaims{}, ErrMalformed
	}
	sealed, err := b64.DecodeString(parts[2])
	ns := h.aead.NonceSize()
	if err != nil || len(sealed) < ns {
		return HandoffClaims{}, ErrMalformed
	}
	key, err := h.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(parts[1]))
	if err != nil {
		return HandoffClaims{}, ErrMalformed
	}
	c := HandoffClaims{ID: parts[0], VisitorID: parts[1], VisitorKey: string(key), IdentityID: parts[3], ExpiresAt: time.Unix(exp, 0).UTC()}
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
