package identity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// MaxSignInTokenTTL is the longest a signInToken may live (exp − iat): a
// proof is made for one login, not kept as a credential.
const MaxSignInTokenTTL = 24 * time.Hour

// SignInLeeway is how far the site's clock may run ahead of the
// collector's (iat in the future) or behind it (exp just passed).
const SignInLeeway = time.Minute

// DefaultAudience is the aud a signInToken must carry unless the collector
// is configured with another (--identity-audience).
const DefaultAudience = "visitrack"

// ErrNoProof is wrapped by every refusal of CheckSignInToken.
var ErrNoProof = errors.New("signInToken is no proof")

// Prover checks the proofs a site's backend hands its pages for SignIn,
// made with the collector's --identity-secret: a userHash
// (hex HMAC-SHA256(secret, userId), either case) or a signInToken (a JWT,
// HS256, sub = userId, aud = the audience, exp at most 24 h after iat). A
// browser can claim any userId; only a proof says the site's backend
// logged that user in.
type Prover struct {
	secret   []byte
	audience string
	now      func() time.Time
}

// NewProver returns a Prover for secret, or nil when secret is empty: with
// no secret nothing is proven (a nil Prover proves nothing). audience is
// the aud a signInToken must name; empty is DefaultAudience. The audience
// is what keeps a token the site signs with the same secret for another
// purpose (its own API, another service) from being a proof here.
func NewProver(secret, audience string, now func() time.Time) *Prover {
	if secret == "" {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Prover{secret: []byte(secret), audience: Audience(audience), now: now}
}

// Audience returns the audience configured as aud: trimmed, and
// DefaultAudience when empty.
func Audience(aud string) string {
	if aud = strings.TrimSpace(aud); aud == "" {
		return DefaultAudience
	}
	return aud
}

// ParseAudience checks a configured audience (--identity-audience): one
// printable string of at most 256 bytes, trimmed. Empty is an error, not
// the default: an operator who set it meant something.
func ParseAudience(aud string) (string, error) {
	aud = strings.TrimSpace(aud)
	switch {
	case aud == "":
		return "", errors.New("the audience is empty")
	case len(aud) > 256:
		return "", fmt.Errorf("the audience is %d bytes, at most 256", len(aud))
	case !utf8.ValidString(aud) || strings.IndexFunc(aud, unicode.IsControl) >= 0:
		return "", fmt.Errorf("the audience %q has a control character or is not UTF-8", aud)
	}
	return aud, nil
}

// Proven reports whether userHash or signInToken proves userID. Empty
// values are absent proofs.
func (p *Prover) Proven(userID, userHash, signInToken string) bool {
	if p == nil || userID == "" {
		return false
	}
	if userHash != "" && CheckUserHash(string(p.secret), userID, userHash) {
		return true
	}
	return signInToken != "" && p.CheckSignInToken(userID, signInToken) == nil
}

// CheckSignInToken verifies a signInToken for userID: HS256 with the
// secret (no other algorithm, "none" included), sub = userID, aud naming
// the Prover's audience, exp present and not passed, iat present and not
// in the future, both numbers, exp at most MaxSignInTokenTTL after iat.
// Both clocks may differ by SignInLeeway.
func (p *Prover) CheckSignInToken(userID, token string) error {
	if p == nil {
		return fmt.Errorf("%w: no --identity-secret is set", ErrNoProof)
	}
	if len(token) > 4096 {
		return fmt.Errorf("%w: longer than 4096 bytes", ErrNoProof)
	}
	var claims signInClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithSubject(userID),
		jwt.WithAudience(p.audience),
		jwt.WithLeeway(SignInLeeway),
		jwt.WithTimeFunc(p.now),
	)
	_, err := parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return p.secret, nil })
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoProof, err)
	}
	if claims.IssuedAt == nil {
		return fmt.Errorf("%w: iat is required", ErrNoProof)
	}
	if claims.ExpiresAt.Sub(claims.IssuedAt.Time) > MaxSignInTokenTTL {
		return fmt.Errorf("%w: exp is more than 24h after iat", ErrNoProof)
	}
	return nil
}

// signInClaims are a signInToken's claims. jwt's NumericDate also reads a
// number written as a string ("exp":"1700000000"); a proof's dates must be
// JSON numbers, so exp, iat and nbf are refused as anything else.
type signInClaims struct {
	jwt.RegisteredClaims
}

func (c *signInClaims) UnmarshalJSON(b []byte) error {
	// json.Unmarshal picks these keys as it picks RegisteredClaims' below
	// (case-insensitively, the last of duplicates winning), so the values
	// checked are the values the dates are read from.
	var dates struct {
		Exp json.RawMessage `json:"exp"`
		Iat json.RawMessage `json:"iat"`
		Nbf json.RawMessage `json:"nbf"`
	}
	if err := json.Unmarshal(b, &dates); err != nil {
		return err
	}
	for _, d := range []struct {
		name string
		raw  json.RawMessage
	}{{"exp", dates.Exp}, {"iat", dates.Iat}, {"nbf", dates.Nbf}} {
		if d.raw != nil && !isJSONNumber(d.raw) {
			return fmt.Errorf("%s must be a number of seconds, not %.40s", d.name, d.raw)
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// isJSONNumber reports whether raw, a valid JSON value, is a number: only
// numbers start with a digit or a minus sign.
func isJSONNumber(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// SignInToken makes a signInToken for userID and audience (empty is
// DefaultAudience), issued at iat and valid for ttl (at most
// MaxSignInTokenTTL): what a site's backend does after its own login
// succeeded. The demo's signer and tests use it.
func SignInToken(secret, audience, userID string, iat time.Time, ttl time.Duration) (string, error) {
	if secret == "" {
		return "", errors.New("identity: signInToken needs a secret")
	}
	claims := jwt.RegisteredClaims{
		Subject:   userID,
		Audience:  jwt.ClaimStrings{Audience(audience)},
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}
