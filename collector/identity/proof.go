package identity

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// MaxSignInTokenTTL is the longest a signInToken may live (exp − iat): a
// proof is made for one login, not kept as a credential.
const MaxSignInTokenTTL = 24 * time.Hour

// SignInLeeway is how far the site's clock may run ahead of the
// collector's (iat in the future) or behind it (exp just passed).
const SignInLeeway = time.Minute

// ErrNoProof is wrapped by every refusal of CheckSignInToken.
var ErrNoProof = errors.New("signInToken is no proof")

// Prover checks the proofs a site's backend hands its pages for SignIn,
// made with the collector's --identity-secret: a userHash
// (hex HMAC-SHA256(secret, userId)) or a signInToken (a JWT, HS256,
// sub = userId, exp at most 24 h after iat). A browser can claim any
// userId; only a proof says the site's backend logged that user in.
type Prover struct {
	secret []byte
	now    func() time.Time
}

// NewProver returns a Prover for secret, or nil when secret is empty: with
// no secret nothing is proven (a nil Prover proves nothing).
func NewProver(secret string, now func() time.Time) *Prover {
	if secret == "" {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Prover{secret: []byte(secret), now: now}
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
// secret (no other algorithm, "none" included), sub = userID, exp present
// and not passed, iat present and not in the future, exp at most
// MaxSignInTokenTTL after iat. Both clocks may differ by SignInLeeway.
func (p *Prover) CheckSignInToken(userID, token string) error {
	if p == nil {
		return fmt.Errorf("%w: no --identity-secret is set", ErrNoProof)
	}
	if len(token) > 4096 {
		return fmt.Errorf("%w: longer than 4096 bytes", ErrNoProof)
	}
	var claims jwt.RegisteredClaims
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithSubject(userID),
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

// SignInToken makes a signInToken for userID, issued at iat and valid for
// ttl (at most MaxSignInTokenTTL): what a site's backend does after its
// own login succeeded. The demo's signer and tests use it.
func SignInToken(secret, userID string, iat time.Time, ttl time.Duration) (string, error) {
	if secret == "" {
		return "", errors.New("identity: signInToken needs a secret")
	}
	claims := jwt.RegisteredClaims{
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(iat),
		ExpiresAt: jwt.NewNumericDate(iat.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
}
