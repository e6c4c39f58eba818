package daemon_test

import (
	"io"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
)

// TestRetentionFlag: --retention is off by default, takes days, reads
// VISITRACK_RETENTION, and refuses less than an hour at start.
func TestRetentionFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	if c, err := parse(nil); err != nil || c.Retention != 0 {
		t.Fatalf("default: %v, %v", c.Retention, err)
	}
	if c, err := parse(nil, "--retention", "400d"); err != nil || c.Retention != 400*24*time.Hour {
		t.Fatalf("400d: %v, %v", c.Retention, err)
	}
	if c, err := parse(map[string]string{"VISITRACK_RETENTION": "36h"}); err != nil || c.Retention != 36*time.Hour {
		t.Fatalf("VISITRACK_RETENTION=36h: %v, %v", c.Retention, err)
	}
	if _, err := parse(nil, "--retention", "30m"); err == nil || !strings.Contains(err.Error(), "--retention") || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("30m: %v", err)
	}
}
