// Package collectortest starts real collectors for tests: the same
// daemon.Main as the binary, on a loopback port 0, with a fresh data
// directory (a real SQLite file), and a WebSocket test client that speaks
// the tracker's protocol.
package collectortest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
)

// Collector is a running collector.
type Collector struct {
	*daemon.Main
	DataDir string
	t       testing.TB
	stopped bool
}

// Origin is the page origin test collectors allow by default: a real
// allow-list, as operators run it, not "*". A test about origins passes
// its own --allowed-origins (the last occurrence of a flag wins).
const Origin = "https://shop.example"

// Option adjusts the command line, e.g. "--visit-timeout", "2s".
type Option []string

// Start runs a collector with the given flags (after --addr and
// --data-dir, which Start sets) and stops it when the test ends.
func Start(t testing.TB, flags ...string) *Collector {
	t.Helper()
	return StartIn(t, t.TempDir(), flags...)
}

// StartIn is Start on an existing data directory (a restart).
func StartIn(t testing.TB, dataDir string, flags ...string) *Collector {
	t.Helper()
	return StartWith(t, dataDir, nil, flags...)
}

// StartWith is StartIn with setup run on the program after its flags are
// parsed and before it runs: to set what has no flag, such as
// daemon.Main.EngagementNow. setup may be nil.
func StartWith(t testing.TB, dataDir string, setup func(*daemon.Main), flags ...string) *Collector {
	t.Helper()
	m := daemon.New(io.Discard, testWriter{t})
	args := append([]string{"--addr", "127.0.0.1:0", "--data-dir", dataDir, "--allowed-origins", Origin, "--log-level", "warn"}, flags...)
	if err := m.ParseFlags(args, func(string) string { return "" }); err != nil {
		t.Fatalf("collector flags: %v", err)
	}
	if setup != nil {
		setup(m)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("collector run: %v", err)
	}
	c := &Collector{Main: m, DataDir: dataDir, t: t}
	t.Cleanup(func() { c.Stop() })
	return c
}

// Stop shuts the collector down gracefully (idempotent).
func (c *Collector) Stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Main.Close(ctx); err != nil {
		c.t.Errorf("collector close: %v", err)
	}
}

// WSURL is the WebSocket endpoint.
func (c *Collector) WSURL() string { return "ws://" + c.Addr() + "/v1/ws" }

// Do sends an API request with the admin token and returns the status and
// body. body may be nil, a []byte, a string or a value to encode as JSON.
func (c *Collector) Do(method, path string, body any, header ...string) (int, []byte) {
	c.t.Helper()
	return Request(c.t, c.URL(), c.AdminToken, method, path, body, header...)
}

// Get decodes a 200 JSON answer of GET path into v.
func (c *Collector) Get(path string, v any) {
	c.t.Helper()
	status, b := c.Do("GET", path, nil)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, b)
	}
}

// Request sends one HTTP request; header is name, value pairs.
func Request(t testing.TB, base, token, method, path string, body any, header ...string) (int, []byte) {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

// testWriter sends the collector's log to the test log, so a failing test
// shows what the collector said.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	if os.Getenv("VISITRACK_TEST_LOG") != "" {
		w.t.Logf("%s", bytes.TrimRight(p, "\n"))
	}
	return len(p), nil
}
