package daemon_test

import (
	"io"
	"testing"

	"github.com/visitrack/visitrack/collector/daemon"
)

// TestProxyAndRateFlags: --trusted-proxies and --rate-limit, from the
// command line or VISITRACK_*, and their bad values.
func TestProxyAndRateFlags(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	c, err := parse(nil)
	if err != nil || c.RateLimit != 1000 || len(c.TrustedProxies) != 0 {
		t.Fatalf("defaults: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"VISITRACK_TRUSTED_PROXIES": "10.0.0.0/8, ::1", "VISITRACK_RATE_LIMIT": "0"})
	if err != nil || c.RateLimit != 0 || len(c.TrustedProxies) != 2 || c.TrustedProxies[1].String() != "::1/128" {
		t.Fatalf("from env: %+v, %v", c, err)
	}
	c, err = parse(map[string]string{"VISITRACK_RATE_LIMIT": "0"}, "--rate-limit", "50", "--trusted-proxies", "127.0.0.0/8")
	if err != nil || c.RateLimit != 50 || len(c.TrustedProxies) != 1 {
		t.Fatalf("flags over env: %+v, %v", c, err)
	}
	for _, bad := range [][]string{{"--rate-limit", "-1"}, {"--rate-limit", "lots"}, {"--trusted-proxies", "proxy.local"}} {
		if _, err := parse(nil, bad...); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
