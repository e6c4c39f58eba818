package edge

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestLoadSettings(t *testing.T) {
	key := strings.Repeat("ab", 32)
	env := func(kv ...string) func(string) string {
		m := map[string]string{EnvRecognitionKey: key}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	s, err := LoadSettings(env(EnvAllowedOrigins, " https://a.example, https://b.example ,", EnvVisitTimeout, "10m",
		EnvBrowserWritable, "prefs", EnvAdminToken, "vt_0123456789abcdef", EnvSweepLimit, "150"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(s.AllowedOrigins, []string{"https://a.example", "https://b.example"}) ||
		s.VisitTimeout != 10*time.Minute || !slices.Equal(s.BrowserWritable, []string{"prefs"}) ||
		len(s.RecognitionKey) != 32 || s.AdminToken != "vt_0123456789abcdef" || s.RequireVerifiedSignIn ||
		s.SweepLimit != 150 {
		t.Fatalf("settings %+v", s)
	}
	if s, err = LoadSettings(env()); err != nil || s.VisitTimeout != 30*time.Minute || s.SweepLimit != DefaultSweepLimit ||
		s.IdentityAudience != "visitrack" {
		t.Fatalf("defaults: %+v, %v; want a 30m visit timeout, a sweep limit of %d and the audience visitrack", s, err, DefaultSweepLimit)
	}
	if s, err = LoadSettings(env(EnvIdentityAudience, " shop-visitrack ")); err != nil || s.IdentityAudience != "shop-visitrack" {
		t.Fatalf("audience: %+v, %v; want shop-visitrack", s, err)
	}

	for _, c := range []struct {
		env  func(string) string
		want string // in the error
	}{
		{env(EnvRecognitionKey, ""), EnvRecognitionKey + " is not set"},
		{env(EnvRecognitionKey, "not hex"), "64 hex digits"},
		{env(EnvRecognitionKey, "abcd"), "64 hex digits"},
		{env(EnvVisitTimeout, "soon"), EnvVisitTimeout},
		{env(EnvVisitTimeout, "-5m"), EnvVisitTimeout},
		{env(EnvSweepLimit, "0"), EnvSweepLimit},
		{env(EnvSweepLimit, "501"), EnvSweepLimit},
		{env(EnvSweepLimit, "many"), EnvSweepLimit},
		{env(EnvRequireVerifiedSignIn, "maybe"), EnvRequireVerifiedSignIn},
		{env(EnvRequireVerifiedSignIn, "true"), "needs " + EnvIdentitySecret},
		{env(EnvAdminToken, "short"), EnvAdminToken},
		{env(EnvGoInstance, "forever"), EnvGoInstance},
		{env(EnvIdentityAudience, "   "), EnvIdentityAudience + ": the audience is empty"},
		{env(EnvIdentityAudience, "shop\nvisitrack"), EnvIdentityAudience},
		{env(EnvIdentityAudience, strings.Repeat("a", 257)), EnvIdentityAudience},
	} {
		if _, err := LoadSettings(c.env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("LoadSettings: error %v, want one that says %q", err, c.want)
		}
	}
	s, err = LoadSettings(env(EnvRequireVerifiedSignIn, "yes", EnvIdentitySecret, "s3cret"))
	if err != nil || !s.RequireVerifiedSignIn || s.IdentitySecret != "s3cret" {
		t.Fatalf("verified sign-in: %+v, %v", s, err)
	}
}
