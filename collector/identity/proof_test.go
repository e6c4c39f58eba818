package identity

import (
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const proofSecret = "site-secret-0123456789abcdef"

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// TestSignInTokenProves: a fresh token for the user is a proof, also when
// the site's clock runs a little ahead.
func TestSignInTokenProves(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	p := NewProver(proofSecret, func() time.Time { return now })
	tok, err := SignInToken(proofSecret, "ada@example.com", now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckSignInToken("ada@example.com", tok); err != nil {
		t.Fatalf("own token refused: %v", err)
	}
	if !p.Proven("ada@example.com", "", tok) {
		t.Fatal("Proven refused a good token")
	}
	ahead, _ := SignInToken(proofSecret, "ada@example.com", now.Add(30*time.Second), 10*time.Minute)
	if err := p.CheckSignInToken("ada@example.com", ahead); err != nil {
		t.Fatalf("token from a clock 30s ahead refused: %v", err)
	}
	full, _ := SignInToken(proofSecret, "ada@example.com", now, MaxSignInTokenTTL)
	if err := p.CheckSignInToken("ada@example.com", full); err != nil {
		t.Fatalf("token living exactly 24h refused: %v", err)
	}
}

// TestSignInTokenRefused: every kind of bad token is no proof.
func TestSignInTokenRefused(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	p := NewProver(proofSecret, func() time.Time { return now })
	key := []byte(proofSecret)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "ada@example.com", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, good())
	cases := map[string]string{
		"expired":         sign(t, jwt.SigningMethodHS256, key, with("exp", now.Add(-2*time.Minute).Unix())),
		"future iat":      sign(t, jwt.SigningMethodHS256, key, jwt.MapClaims{"sub": "ada@example.com", "iat": now.Add(10 * time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}),
		"alg none":        none,
		"alg HS384":       sign(t, jwt.SigningMethodHS384, key, good()),
		"alg HS512":       sign(t, jwt.SigningMethodHS512, key, good()),
		"wrong key":       sign(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789"), good()),
		"wrong sub":       sign(t, jwt.SigningMethodHS256, key, with("sub", "eve@example.com")),
		"no sub":          sign(t, jwt.SigningMethodHS256, key, with("sub", nil)),
		"no exp":          sign(t, jwt.SigningMethodHS256, key, with("exp", nil)),
		"no iat":          sign(t, jwt.SigningMethodHS256, key, with("iat", nil)),
		"exp over 24h":    sign(t, jwt.SigningMethodHS256, key, with("exp", now.Add(24*time.Hour+time.Second).Unix())),
		"garbage":         "not.a.jwt",
		"empty":           "",
		"signature cut":   good256(t, key, good())[:40],
		"sub as a number": sign(t, jwt.SigningMethodHS256, key, with("sub", 42)),
	}
	for name, tok := range cases {
		if err := p.CheckSignInToken("ada@example.com", tok); !errors.Is(err, ErrNoProof) {
			t.Errorf("%s: err = %v, want ErrNoProof", name, err)
		}
		if p.Proven("ada@example.com", "", tok) {
			t.Errorf("%s: Proven accepted it", name)
		}
	}
}

func good256(t *testing.T, key []byte, c jwt.MapClaims) string {
	return sign(t, jwt.SigningMethodHS256, key, c)
}

// TestNoSecretProvesNothing: without --identity-secret, no userHash and no
// token is a proof, not even one made with an empty key.
func TestNoSecretProvesNothing(t *testing.T) {
	p := NewProver("", nil)
	if p != nil {
		t.Fatal("NewProver(\"\") is not nil")
	}
	empty := sign(t, jwt.SigningMethodHS256, []byte{}, jwt.MapClaims{"sub": "ada", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	if p.Proven("ada", UserHash("", "ada"), empty) {
		t.Fatal("a nil Prover proved something")
	}
}

// TestProvenUserHash: the userHash path of Proven.
func TestProvenUserHash(t *testing.T) {
	p := NewProver(proofSecret, nil)
	if !p.Proven("ada", UserHash(proofSecret, "ada"), "") {
		t.Fatal("good userHash refused")
	}
	if p.Proven("eve", UserHash(proofSecret, "ada"), "") || p.Proven("ada", UserHash("other", "ada"), "") {
		t.Fatal("wrong userHash accepted")
	}
}
