package settings_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/settings"
)

// TestEnvNames: every shared setting's variable is VISITRACK_ and its flag
// in upper snake case, as every other flag of the daemon.
func TestEnvNames(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range settings.All() {
		if s.Env != settings.EnvName(s.Flag) || seen[s.Flag] {
			t.Errorf("setting %q: variable %s, want %s once", s.Flag, s.Env, settings.EnvName(s.Flag))
		}
		seen[s.Flag] = true
	}
	all := settings.All()
	all[0].Flag = "changed"
	if settings.All()[0].Flag == "changed" {
		t.Fatal("All shares its slice with its callers")
	}
}

func TestFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	s, err := settings.FromEnv(env())
	if err != nil || s.VisitTimeout != 30*time.Minute || s.IdentityAudience != "visitrack" || s.RateLimit != 1000 ||
		s.MaxSocketsPerIP != 500 || s.RequireVerifiedSignIn || s.AllowedOrigins != nil || s.MergeUndo != 30*24*time.Hour {
		t.Fatalf("defaults: %+v, %v", s, err)
	}
	s, err = settings.FromEnv(env(settings.EnvAllowedOrigins, " https://a.example, ,https://b.example ,",
		settings.EnvVisitTimeout, " 10m ", settings.EnvRequireVerifiedSignIn, " YES ", settings.EnvIdentitySecret, "s3cret",
		settings.EnvBlockedUserIDs, "kiosk", settings.EnvRateLimit, "0", settings.EnvMaxSocketsPerIP, " 7",
		settings.EnvMergeUndoDays, " 7 "))
	if err != nil || !slices.Equal(s.AllowedOrigins, []string{"https://a.example", "https://b.example"}) ||
		s.VisitTimeout != 10*time.Minute || !s.RequireVerifiedSignIn || s.IdentitySecret != "s3cret" ||
		!slices.Equal(s.BlockedUserIDs, []string{"kiosk"}) || s.RateLimit != 0 || s.MaxSocketsPerIP != 7 || s.MergeUndo != 7*24*time.Hour {
		t.Fatalf("set: %+v, %v", s, err)
	}
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env(settings.EnvVisitTimeout, "soon"), settings.EnvVisitTimeout + `: "soon": want a positive duration`},
		{env(settings.EnvVisitTimeout, "0s"), settings.EnvVisitTimeout},
		{env(settings.EnvRequireVerifiedSignIn, "maybe"), settings.EnvRequireVerifiedSignIn + `: "maybe": want true or false`},
		{env(settings.EnvRequireVerifiedSignIn, "1"), settings.EnvRequireVerifiedSignIn + " needs " + settings.EnvIdentitySecret},
		{env(settings.EnvIdentityAudience, " "), settings.EnvIdentityAudience + ": the audience is empty"},
		{env(settings.EnvRateLimit, "-1"), settings.EnvRateLimit},
		{env(settings.EnvMaxSocketsPerIP, "many"), settings.EnvMaxSocketsPerIP},
		{env(settings.EnvMergeUndoDays, "0"), settings.EnvMergeUndoDays + `: "0": want a whole number of days from 1 to 3650`},
		{env(settings.EnvMergeUndoDays, "1.5"), settings.EnvMergeUndoDays},
		{env(settings.EnvMergeUndoDays, "3651"), settings.EnvMergeUndoDays},
	} {
		if _, err := settings.FromEnv(c.env); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want one that says %q", err, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	if got := settings.List(" a, ,b ,"); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("List = %q", got)
	}
	for in, want := range map[string]bool{"true": true, " Yes": true, "1": true, "": false, "no": false, "FALSE ": false} {
		if got, err := settings.Bool(in); err != nil || got != want {
			t.Errorf("Bool(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := settings.Bool("on"); err == nil {
		t.Error("Bool(on) accepted")
	}
	if d, err := settings.PositiveDuration(" 75s"); err != nil || d != 75*time.Second {
		t.Errorf("PositiveDuration = %v, %v", d, err)
	}
	for _, bad := range []string{"", "0s", "-1m", "soon"} {
		if _, err := settings.PositiveDuration(bad); err == nil {
			t.Errorf("PositiveDuration(%q) accepted", bad)
		}
	}
	if n, err := settings.Count(" 0 "); err != nil || n != 0 {
		t.Errorf("Count = %v, %v", n, err)
	}
	for _, bad := range []string{"", "-1", "1.5", "many"} {
		if _, err := settings.Count(bad); err == nil {
			t.Errorf("Count(%q) accepted", bad)
		}
	}
}
