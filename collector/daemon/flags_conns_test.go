package daemon_test

import (
	"io"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
)

// TestConnectionFlags: --max-connections-per-ip and --idle-timeout, their
// defaults, VISITRACK_*, and bad values.
func TestConnectionFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	c, err := parse(nil)
	if err != nil || c.MaxConnsPerIP != 500 || c.IdleTimeout != 75*time.Second {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"VISITRACK_MAX_CONNECTIONS_PER_IP": "0", "VISITRACK_IDLE_TIMEOUT": "2m"})
	if err != nil || c.MaxConnsPerIP != 0 || c.IdleTimeout != 2*time.Minute {
		t.Fatalf("from env: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"VISITRACK_MAX_CONNECTIONS_PER_IP": "0", "VISITRACK_IDLE_TIMEOUT": "2m"},
		"--max-connections-per-ip", "64", "--idle-timeout", "5s")
	if err != nil || c.MaxConnsPerIP != 64 || c.IdleTimeout != 5*time.Second {
		t.Fatalf("flags over env: %+v, %v", c, err)
	}
	for _, bad := range [][]string{{"--max-connections-per-ip", "-1"}, {"--max-connections-per-ip", "many"},
		{"--idle-timeout", "0s"}, {"--idle-timeout", "-1s"}, {"--idle-timeout", "later"}} {
		if _, err := parse(nil, bad...); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
