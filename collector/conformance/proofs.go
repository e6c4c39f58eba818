package conformance

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	vtidentity "github.com/visitrack/visitrack/collector/identity"
)

// The formats of the proofs: a signInToken names the collector's audience
// and dates in numbers; a userHash is hex in either case.

// signedToken signs claims with the identity secret, as a site's backend
// would, whatever they say.
func (s *suite) signedToken(claims jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(s.IdentitySecret))
	if err != nil {
		panic(err)
	}
	return tok
}

// notProofs are tokens signed with the identity secret for userID that
// prove nothing: made for another audience, or for none, or with a date
// written as a string. testUnprovenSignIn checks each learns nothing.
func (s *suite) notProofs(userID string) map[string]string {
	now := time.Now()
	claims := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": userID, "aud": vtidentity.Audience(s.IdentityAudience), "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	return map[string]string{
		"signInToken for another audience": s.signedToken(claims("aud", "another-service")),
		"signInToken without aud":          s.signedToken(claims("aud", nil)),
		"signInToken with exp as a string": s.signedToken(claims("exp", strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10))),
		"signInToken with iat as a string": s.signedToken(claims("iat", strconv.FormatInt(now.Unix(), 10))),
	}
}

// testProofFormats: the proofs real backends make are proofs: a userHash
// in upper-case hex (.NET's Convert.ToHexString), a signInToken whose aud
// lists the collector's audience among others.
func (s *suite) testProofFormats(t *testing.T) {
	for name, proof := range map[string]func(userID string) map[string]any{
		"upper-case userHash": func(userID string) map[string]any {
			return map[string]any{"userId": userID, "userHash": strings.ToUpper(vtidentity.UserHash(s.IdentitySecret, userID))}
		},
		"aud among others": func(userID string) map[string]any {
			now := time.Now()
			return map[string]any{"userId": userID, "signInToken": s.signedToken(jwt.MapClaims{"sub": userID,
				"aud": []string{"another-service", vtidentity.Audience(s.IdentityAudience)}, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()})}
		},
	} {
		userID := "grace." + strings.ReplaceAll(name, " ", "-") + "+" + s.run + "@example.com"
		b := newBrowser()
		e := b.event("PageEntered", nil)
		s.collect(t, b, e).wantAcked(t, e)
		signIn := b.event("SignIn", proof(userID))
		a := s.collect(t, b, signIn)
		a.wantAcked(t, signIn)
		if a.Identity == nil || !a.Identity.Verified || a.Identity.IdentityID == nil {
			t.Fatalf("%s: SignIn answered identity %v, want verified with an identityId", name, a.Identity)
		}
		if v := s.visit(t, b.visitID); v.State != "authenticated" || !v.Verified {
			t.Fatalf("%s: visit %+v, want authenticated, verified", name, v)
		}
	}
}
