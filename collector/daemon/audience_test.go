package daemon_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestIdentityAudienceFlag: --identity-audience, from the command line or
// VISITRACK_IDENTITY_AUDIENCE, defaults to visitrack; an empty or
// unprintable one is refused.
func TestIdentityAudienceFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	for _, c := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{nil, nil, "visitrack"},
		{map[string]string{"VISITRACK_IDENTITY_AUDIENCE": " shop-collector "}, nil, "shop-collector"},
		{map[string]string{"VISITRACK_IDENTITY_AUDIENCE": "shop-collector"}, []string{"--identity-audience", "https://vt.shop.example"}, "https://vt.shop.example"},
	} {
		got, err := parse(c.env, c.args...)
		if err != nil || got.IdentityAudience != c.want {
			t.Errorf("env %v, args %q: audience %q, %v; want %q", c.env, c.args, got.IdentityAudience, err, c.want)
		}
	}
	for _, bad := range []string{"", "  ", "shop\ncollector", strings.Repeat("a", 257)} {
		if _, err := parse(nil, "--identity-audience", bad); err == nil || !strings.Contains(err.Error(), "--identity-audience") {
			t.Errorf("--identity-audience %q: %v, want an error naming the flag", bad, err)
		}
	}
}

// TestIdentityAudienceProves: a real collector with --identity-audience
// takes tokens for that audience only; the demo's signer makes them so;
// a userHash in upper case proves too.
func TestIdentityAudienceProves(t *testing.T) {
	const secret, aud, user = "audience-test-identity-secret", "shop-collector", "ada@example.com"
	m, _ := run(t, nil, "--identity-secret", secret, "--identity-audience", aud, "--demo")
	signIn := func(data map[string]any) bool {
		t.Helper()
		status, b := collectortest.Request(t, m.URL(), "", "POST", "/v1/collect", map[string]any{"events": []protocol.Event{
			collectortest.Event(protocol.EventSignIn, "", data)}})
		var res protocol.CollectResponse
		if status != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Identity == nil {
			t.Fatalf("SignIn %v: %d %s", data, status, b)
		}
		return res.Identity.Verified
	}
	token := func(claims jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	now := time.Now()
	claims := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{"sub": user, "aud": aud, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	for name, c := range map[string]struct {
		data     map[string]any
		verified bool
	}{
		"token for the audience":      {map[string]any{"signInToken": token(claims("", nil))}, true},
		"token among audiences":       {map[string]any{"signInToken": token(claims("aud", []string{"crm", aud}))}, true},
		"token for the default":       {map[string]any{"signInToken": token(claims("aud", identity.DefaultAudience))}, false},
		"token for another service":   {map[string]any{"signInToken": token(claims("aud", "shop-api"))}, false},
		"token without aud":           {map[string]any{"signInToken": token(claims("aud", nil))}, false},
		"token with exp as a string":  {map[string]any{"signInToken": token(claims("exp", strconv.FormatInt(now.Add(5*time.Minute).Unix(), 10)))}, false},
		"upper-case userHash":         {map[string]any{"userHash": strings.ToUpper(identity.UserHash(secret, user))}, true},
		"upper-case hash of another":  {map[string]any{"userHash": strings.ToUpper(identity.UserHash(secret, "eve@example.com"))}, false},
		"lower-case userHash":         {map[string]any{"userHash": identity.UserHash(secret, user)}, true},
		"userHash with a stray digit": {map[string]any{"userHash": identity.UserHash(secret, user) + "0"}, false},
	} {
		c.data["userId"] = user
		if got := signIn(c.data); got != c.verified {
			t.Errorf("%s: verified %v, want %v", name, got, c.verified)
		}
	}

	// The demo's signer makes tokens for the configured audience.
	status, b := collectortest.Request(t, m.URL(), "", "POST", "/demo/api/login", map[string]string{"userId": user})
	var proof struct{ SignInToken string }
	if status != http.StatusOK || json.Unmarshal(b, &proof) != nil || proof.SignInToken == "" {
		t.Fatalf("demo login: %d %s", status, b)
	}
	parts := strings.Split(proof.SignInToken, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var got struct{ Aud []string }
	if json.Unmarshal(payload, &got) != nil || !slices.Equal(got.Aud, []string{aud}) {
		t.Fatalf("the demo's token carries %s, want aud [%s]", payload, aud)
	}
	if !signIn(map[string]any{"userId": user, "signInToken": proof.SignInToken}) {
		t.Fatal("the demo's token is no proof")
	}
}
