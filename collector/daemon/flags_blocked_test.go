package daemon_test

import (
	"io"
	"slices"
	"testing"

	"github.com/visitrack/visitrack/collector/daemon"
)

// TestBlockedUserIDsFlag: --blocked-user-ids, or VISITRACK_BLOCKED_USER_IDS,
// is a comma-separated list; the flag wins over the environment.
func TestBlockedUserIDsFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) []string {
		t.Helper()
		m := daemon.New(io.Discard, io.Discard)
		if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		return m.Config.BlockedUserIDs
	}
	if got := parse(nil); len(got) != 0 {
		t.Fatalf("default = %q, want none beyond the placeholders", got)
	}
	if got := parse(map[string]string{"VISITRACK_BLOCKED_USER_IDS": " kiosk, test-user ,"}); !slices.Equal(got, []string{"kiosk", "test-user"}) {
		t.Fatalf("from env = %q", got)
	}
	if got := parse(map[string]string{"VISITRACK_BLOCKED_USER_IDS": "kiosk"}, "--blocked-user-ids", "demo"); !slices.Equal(got, []string{"demo"}) {
		t.Fatalf("flag over env = %q", got)
	}
}
