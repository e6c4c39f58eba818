package identity

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
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
	p := NewProver(proofSecret, "", func() time.Time { return now })
	tok, err := SignInToken(proofSecret, "", "ada@example.com", now, 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckSignInToken("ada@example.com", tok); err != nil {
		t.Fatalf("own token refused: %v", err)
	}
	if !p.Proven("ada@example.com", "", tok) {
		t.Fatal("Proven refused a good token")
	}
	ahead, _ := SignInToken(proofSecret, "", "ada@example.com", now.Add(30*time.Second), 10*time.Minute)
	if err := p.CheckSignInToken("ada@example.com", ahead); err != nil {
		t.Fatalf("token from a clock 30s ahead refused: %v", err)
	}
	full, _ := SignInToken(proofSecret, "", "ada@example.com", now, MaxSignInTokenTTL)
	if err := p.CheckSignInToken("ada@example.com", full); err != nil {
		t.Fatalf("token living exactly 24h refused: %v", err)
	}
	// aud may be a list that names the audience among others, and the
	// dates any JSON number.
	key := []byte(proofSecret)
	for name, claims := range map[string]jwt.MapClaims{
		"aud list":     {"sub": "ada@example.com", "aud": []string{"crm", DefaultAudience}, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()},
		"float dates":  {"sub": "ada@example.com", "aud": DefaultAudience, "iat": float64(now.Unix()) + 0.5, "exp": 1.7952552e9 + 600},
		"numeric nbf":  {"sub": "ada@example.com", "aud": DefaultAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "nbf": now.Unix()},
		"extra claims": {"sub": "ada@example.com", "aud": DefaultAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "iss": "shop", "jti": "x"},
	} {
		if err := p.CheckSignInToken("ada@example.com", sign(t, jwt.SigningMethodHS256, key, claims)); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}

// TestSignInTokenAudience: a Prover with another audience takes tokens
// for that audience only, and SignInToken makes them.
func TestSignInTokenAudience(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	shop := NewProver(proofSecret, " shop-visitrack ", clock)
	own, _ := SignInToken(proofSecret, "shop-visitrack", "ada@example.com", now, time.Minute)
	if err := shop.CheckSignInToken("ada@example.com", own); err != nil {
		t.Fatalf("token for the configured audience refused: %v", err)
	}
	def, _ := SignInToken(proofSecret, "", "ada@example.com", now, time.Minute)
	if err := shop.CheckSignInToken("ada@example.com", def); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
		t.Fatalf("token for %q with audience shop-visitrack: %v, want ErrTokenInvalidAudience", DefaultAudience, err)
	}
	if err := NewProver(proofSecret, "", clock).CheckSignInToken("ada@example.com", own); !errors.Is(err, jwt.ErrTokenInvalidAudience) {
		t.Fatalf("token for shop-visitrack with the default audience: %v", err)
	}
	if Audience("") != DefaultAudience || Audience("  ") != DefaultAudience || Audience(" a ") != "a" {
		t.Fatalf("Audience: %q %q %q", Audience(""), Audience("  "), Audience(" a "))
	}
}

// TestSignInTokenRefused: every kind of bad token is no proof.
func TestSignInTokenRefused(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	p := NewProver(proofSecret, "", func() time.Time { return now })
	key := []byte(proofSecret)
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "ada@example.com", "aud": DefaultAudience, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
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
		"future iat":      sign(t, jwt.SigningMethodHS256, key, with("iat", now.Add(10*time.Minute).Unix())),
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
		// A token the site signs with the same secret for something else.
		"no aud":          sign(t, jwt.SigningMethodHS256, key, with("aud", nil)),
		"empty aud":       sign(t, jwt.SigningMethodHS256, key, with("aud", "")),
		"other aud":       sign(t, jwt.SigningMethodHS256, key, with("aud", "shop-api")),
		"aud list":        sign(t, jwt.SigningMethodHS256, key, with("aud", []string{"shop-api", "crm"})),
		"aud case":        sign(t, jwt.SigningMethodHS256, key, with("aud", "Visitrack")),
		"aud as a number": sign(t, jwt.SigningMethodHS256, key, with("aud", 7)),
		// Dates are numbers, not strings that look like numbers.
		"exp as string":   sign(t, jwt.SigningMethodHS256, key, with("exp", strconv.FormatInt(now.Add(time.Hour).Unix(), 10))),
		"iat as string":   sign(t, jwt.SigningMethodHS256, key, with("iat", strconv.FormatInt(now.Unix(), 10))),
		"nbf as string":   sign(t, jwt.SigningMethodHS256, key, with("nbf", strconv.FormatInt(now.Unix(), 10))),
		"exp as null":     signJSON(t, key, `{"sub":"ada@example.com","aud":"visitrack","iat":1795255200,"exp":null}`),
		"iat as bool":     sign(t, jwt.SigningMethodHS256, key, with("iat", true)),
		"exp as object":   sign(t, jwt.SigningMethodHS256, key, with("exp", map[string]any{"n": 1795258800})),
		"exp as list":     sign(t, jwt.SigningMethodHS256, key, with("exp", []int64{1795258800})),
		"EXP as string":   signJSON(t, key, `{"sub":"ada@example.com","aud":"visitrack","iat":1795255200,"EXP":"1795258800"}`),
		"exp twice":       signJSON(t, key, `{"sub":"ada@example.com","aud":"visitrack","iat":1795255200,"exp":1795258800,"exp":"1795258800"}`),
		"claims a list":   signJSON(t, key, `[1795258800]`),
		"claims a string": signJSON(t, key, `"x"`),
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

// signJSON signs claims exactly as written (HS256), for claims that
// MapClaims cannot express: duplicate keys, null, a non-object.
func signJSON(t testing.TB, key []byte, claims string) string {
	t.Helper()
	head := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." +
		base64.RawURLEncoding.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(head, key)
	if err != nil {
		t.Fatal(err)
	}
	return head + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestJWTReadsStringDates pins why signInClaims checks the dates itself:
// jwt's RegisteredClaims reads "exp":"…" as a number. Should the library
// ever refuse strings itself, this fails and the check may go.
func TestJWTReadsStringDates(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	tok := signJSON(t, []byte(proofSecret), `{"sub":"ada","aud":"visitrack","iat":"1795255200","exp":"1795258800"}`)
	var c jwt.RegisteredClaims
	_, err := jwt.NewParser(jwt.WithTimeFunc(func() time.Time { return now }), jwt.WithIssuedAt(), jwt.WithExpirationRequired()).
		ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return []byte(proofSecret), nil })
	if err != nil || c.ExpiresAt == nil || c.ExpiresAt.Unix() != 1795258800 {
		t.Fatalf("jwt no longer reads string dates (%v, %v): signInClaims.UnmarshalJSON may go", c.ExpiresAt, err)
	}
	var s signInClaims
	err = json.Unmarshal([]byte(`{"iat":"1795255200","exp":1795258800}`), &s)
	if err == nil || !strings.Contains(err.Error(), "iat must be a number") {
		t.Fatalf("signInClaims read a string iat: %v", err)
	}
}

// TestNoSecretProvesNothing: without --identity-secret, no userHash and no
// token is a proof, not even one made with an empty key.
func TestNoSecretProvesNothing(t *testing.T) {
	p := NewProver("", "", nil)
	if p != nil {
		t.Fatal("NewProver(\"\") is not nil")
	}
	empty := sign(t, jwt.SigningMethodHS256, []byte{}, jwt.MapClaims{"sub": "ada", "aud": DefaultAudience, "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	if p.Proven("ada", UserHash("", "ada"), empty) {
		t.Fatal("a nil Prover proved something")
	}
}

// TestProvenUserHash: the userHash path of Proven.
func TestProvenUserHash(t *testing.T) {
	p := NewProver(proofSecret, "", nil)
	if !p.Proven("ada", UserHash(proofSecret, "ada"), "") {
		t.Fatal("good userHash refused")
	}
	if p.Proven("eve", UserHash(proofSecret, "ada"), "") || p.Proven("ada", UserHash("other", "ada"), "") {
		t.Fatal("wrong userHash accepted")
	}
}

// TestUserHashEitherCase: a userHash is hex in lower or upper case (a .NET
// backend's Convert.ToHexString writes upper case); anything that is not
// the 32 bytes of the HMAC in hex is no proof.
func TestUserHashEitherCase(t *testing.T) {
	// printf %s ada@example.com | openssl dgst -sha256 -hmac s3cret
	const lower = "02499ca50786c7344cb6060012cb26cef23df47a15e968f558eed4652b0a0330"
	upper := strings.ToUpper(lower)
	mixed := lower[:32] + upper[32:]
	for _, h := range []string{lower, upper, mixed} {
		if !CheckUserHash("s3cret", "ada@example.com", h) {
			t.Errorf("CheckUserHash(%s) refused", h)
		}
	}
	p := NewProver("s3cret", "", nil)
	if !p.Proven("ada@example.com", upper, "") {
		t.Error("Proven refused an upper-case userHash")
	}
	for name, h := range map[string]string{
		"other user, upper case": strings.ToUpper(UserHash("s3cret", "eve@example.com")),
		"other key, upper case":  strings.ToUpper(UserHash("other", "ada@example.com")),
		"empty":                  "",
		"cut short":              upper[:62],
		"one byte more":          upper + "00",
		"odd length":             upper + "0",
		"not hex":                "G" + upper[1:],
		"spaced":                 " " + upper[1:],
		"0x prefix":              "0x" + upper[2:],
		"base64 of the mac":      "AkmcpQeGxzRMtgYAEssmzvI99HoV6Wj1WO7UZSsKAzA=",
	} {
		if CheckUserHash("s3cret", "ada@example.com", h) || p.Proven("ada@example.com", h, "") {
			t.Errorf("%s (%q) accepted", name, h)
		}
	}
}
