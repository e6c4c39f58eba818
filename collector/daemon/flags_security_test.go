package daemon_test

import (
	"io"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
)

// TestSocketCapAndBodyTimeoutFlags: --max-sockets-per-ip and
// --body-timeout, their defaults, VISITRACK_*, and bad values.
func TestSocketCapAndBodyTimeoutFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	c, err := parse(nil)
	if err != nil || c.MaxSocketsPerIP != 500 || c.BodyTimeout != 30*time.Second {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"VISITRACK_MAX_SOCKETS_PER_IP": "0", "VISITRACK_BODY_TIMEOUT": "5s"})
	if err != nil || c.MaxSocketsPerIP != 0 || c.BodyTimeout != 5*time.Second {
		t.Fatalf("from env: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"VISITRACK_MAX_SOCKETS_PER_IP": "0"}, "--max-sockets-per-ip", "20")
	if err != nil || c.MaxSocketsPerIP != 20 {
		t.Fatalf("flag over env: %+v, %v", c, err)
	}
	for _, bad := range [][]string{{"--max-sockets-per-ip", "-1"}, {"--max-sockets-per-ip", "many"},
		{"--body-timeout", "0s"}, {"--body-timeout", "soon"}} {
		if _, err := parse(nil, bad...); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
