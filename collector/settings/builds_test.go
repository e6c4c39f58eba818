package settings_test

import (
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/settings"
)

// TestBothBuildsAgree: the same VISITRACK_* variables give the native
// collector and the edge the same shared settings, or both refuse them.
func TestBothBuildsAgree(t *testing.T) {
	for _, vars := range []map[string]string{
		{},
		{settings.EnvAllowedOrigins: " https://a.example ,https://b.example", settings.EnvVisitTimeout: " 10m",
			settings.EnvBrowserWritable: "prefs, cart", settings.EnvBlockedUserIDs: " kiosk ,"},
		{settings.EnvRequireVerifiedSignIn: " Yes", settings.EnvIdentitySecret: "s3cret", settings.EnvIdentityAudience: " shop "},
		{settings.EnvRateLimit: " 20", settings.EnvMaxSocketsPerIP: "0", settings.EnvMergeUndoDays: "7"},
		{settings.EnvMergeUndoDays: "0"},
		{settings.EnvRequireVerifiedSignIn: "true"},
		{settings.EnvVisitTimeout: "-5m"},
		{settings.EnvIdentityAudience: "shop\nvisitrack"},
		{settings.EnvRateLimit: "lots"},
	} {
		getenv := func(k string) string { return vars[k] }
		m := daemon.New(io.Discard, io.Discard)
		nerr := m.ParseFlags(nil, getenv)
		e, eerr := edge.LoadSettings(func(k string) string {
			if k == edge.EnvRecognitionKey {
				return strings.Repeat("ab", 32)
			}
			return vars[k]
		})
		if (nerr == nil) != (eerr == nil) {
			t.Errorf("%q: native %v, edge %v", vars, nerr, eerr)
			continue
		}
		if nerr != nil {
			continue
		}
		c := m.Config
		native := settings.Shared{AllowedOrigins: c.AllowedOrigins, VisitTimeout: c.VisitTimeout, IdentitySecret: c.IdentitySecret,
			IdentityAudience: c.IdentityAudience, RequireVerifiedSignIn: c.RequireVerifiedSignIn, BrowserWritable: c.BrowserWritable,
			BlockedUserIDs: c.BlockedUserIDs, RateLimit: c.RateLimit, MaxSocketsPerIP: c.MaxSocketsPerIP, MergeUndo: c.MergeUndo}
		if !reflect.DeepEqual(native, e.Shared) {
			t.Errorf("%q:\nnative %+v\nedge   %+v", vars, native, e.Shared)
		}
	}
}
