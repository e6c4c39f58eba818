package identity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"
)

// MaxTokenTTL is the longest a recognition token lives (docs/tracker.md#cookies: _vt_uid
// lasts until SignOut, one year at most).
const MaxTokenTTL = 365 * 24 * time.Hour

// MinKeyLen is the shortest key Signer accepts.
const MinKeyLen = 32

// Errors of Verify. Callers treat every one the same (the token is
// ignored); they differ for logs and tests.
var (
	ErrMalformed = errors.New("recognition token is malformed")
	ErrSignature = errors.New("recognition token signature is wrong")
	ErrExpired   = errors.New("recognition token has expired")
)

// Claims are what a valid token says.
type Claims struct {
	IdentityID string
	UserID     string
	IssuedAt   time.Time
	ExpiresAt  time.Time
	// ID names the token for revocation (SignOut).
	ID string
	// Verified is true when the SignIn that earned the token was proven.
	Verified bool
}

// Signer issues and verifies recognition tokens with one key.
type Signer struct {
	key  []byte
	ttl  time.Duration
	now  func() time.Time
	rand io.Reader
}

// NewSigner returns a Signer for key, which must be at least MinKeyLen
// random bytes kept secret by the collector. Token ids come from
// crypto/rand; see WithRand.
func NewSigner(key []byte, ttl time.Duration, now func() time.Time) (*Signer, error) {
	if len(key) < MinKeyLen {
		return nil, errors.New("identity: recognition key must be at least 32 bytes")
	}
	if ttl <= 0 || ttl > MaxTokenTTL {
		ttl = MaxTokenTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Signer{key: key, ttl: ttl, now: now, rand: rand.Reader}, nil
}

// WithRand returns a copy of s that draws token ids from r (tests).
func (s *Signer) WithRand(r io.Reader) *Signer {
	c := *s
	c.rand = r
	return &c
}

const (
	tokenPrefix   = "v2."
	tokenPrefixV1 = "v1."
)

var b64 = base64.RawURLEncoding

// Issue returns a token for the identity, valid for the signer's TTL, with
// a new random id; verified says whether the SignIn was proven.
func (s *Signer) Issue(identityID, userID string, verified bool) string {
	now := s.now()
	id := make([]byte, 16)
	if _, err := io.ReadFull(s.rand, id); err != nil {
		// crypto/rand does not fail on supported platforms; a test
		// reader that runs dry falls back to it.
		rand.Read(id)
	}
	flag := "0"
	if verified {
		flag = "1"
	}
	payload := identityID + "\n" + userID + "\n" +
		strconv.FormatInt(now.Unix(), 10) + "\n" +
		strconv.FormatInt(now.Add(s.ttl).Unix(), 10) + "\n" +
		b64.EncodeToString(id) + "\n" + flag
	body := tokenPrefix + b64.EncodeToString([]byte(payload))
	return body + "." + b64.EncodeToString(s.mac(body))
}

// Verify checks the token's signature and expiry and returns its claims.
// It does not know revocations: the caller checks Claims.ID against them.
func (s *Signer) Verify(token string) (Claims, error) {
	if len(token) > 2048 {
		return Claims{}, ErrMalformed
	}
	v1 := strings.HasPrefix(token, tokenPrefixV1)
	if !v1 && !strings.HasPrefix(token, tokenPrefix) {
		return Claims{}, ErrMalformed
	}
	dot := strings.LastIndexByte(token, '.')
	if dot <= len(tokenPrefix) {
		return Claims{}, ErrMalformed
	}
	body, sig := token[:dot], token[dot+1:]
	mac, err := b64.DecodeString(sig)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	if !hmac.Equal(mac, s.mac(body)) {
		return Claims{}, ErrSignature
	}
	raw, err := b64.DecodeString(body[len(tokenPrefix):])
	if err != nil {
		return Claims{}, ErrMalformed
	}
	parts := strings.Split(string(raw), "\n")
	want := 6
	if v1 {
		want = 4
	}
	if len(parts) != want || parts[0] == "" || parts[1] == "" {
		return Claims{}, ErrMalformed
	}
	iat, err1 := strconv.ParseInt(parts[2], 10, 64)
	exp, err2 := strconv.ParseInt(parts[3], 10, 64)
	if err1 != nil || err2 != nil {
		return Claims{}, ErrMalformed
	}
	c := Claims{IdentityID: parts[0], UserID: parts[1], IssuedAt: time.Unix(iat, 0).UTC(), ExpiresAt: time.Unix(exp, 0).UTC()}
	if v1 {
		// No id and no flag: named by its mac, and never verified.
		c.ID = "v1:" + hex.EncodeToString(mac[:16])
	} else {
		if parts[4] == "" || parts[5] != "0" && parts[5] != "1" {
			return Claims{}, ErrMalformed
		}
		c.ID, c.Verified = parts[4], parts[5] == "1"
	}
	if !s.now().Before(c.ExpiresAt) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

func (s *Signer) mac(body string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(body))
	return h.Sum(nil)
}
