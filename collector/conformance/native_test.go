package conformance_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest/rrproxy"
	"github.com/visitrack/visitrack/collector/conformance"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestNative runs the suite against the native collector, started in
// process on port 0 with a fresh SQLite file, as the binary runs.
func TestNative(t *testing.T) { runNative(t, "") }

// TestNativePostgres runs it against the native collector on a fresh
// PostgreSQL database (--database): the same answers as on SQLite.
func TestNativePostgres(t *testing.T) { runNative(t, pgtest.NewDatabase(t)) }

func runNative(t *testing.T, database string) {
	dir := t.TempDir()
	const origin = "http://shop.example"
	const admin = "vt_conformance-admin-token-0123456789"
	const identitySecret = "conformance-identity-secret-0123456789"
	env := map[string]string{"VISITRACK_ADMIN_TOKEN": admin}
	m := daemon.New(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--database", database,
		"--allowed-origins", origin, "--log-level", "error", "--identity-secret", identitySecret},
		func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
	})

	// Single-scope tokens, made as `collector token create` makes them.
	st, closeDB, err := daemon.OpenDatabase(ctx, database, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	tokens := map[string]string{}
	for _, sc := range conformance.NeededScopes() {
		_, secret, err := st.CreateToken(ctx, []string{sc})
		if err != nil {
			t.Fatal(err)
		}
		tokens[sc] = secret
	}
	conformance.Run(t, conformance.Target{BaseURL: m.URL(), AdminToken: admin, Origin: origin, Tokens: tokens, IdentitySecret: identitySecret})
}

// TestTwoNodesPostgres runs the suite against two collectors on one
// PostgreSQL database behind a round-robin proxy, as a load balancer puts
// them (docs/deployment-push.md): consecutive requests and WebSockets go
// to alternate nodes, so every write made through one is read through
// the other. The nodes share the recognition key and the admin token
// through the environment, and the identity secret by flag.
func TestTwoNodesPostgres(t *testing.T) {
	database := pgtest.NewDatabase(t)
	const origin = "http://shop.example"
	const admin = "vt_conformance-admin-token-0123456789"
	const identitySecret = "conformance-identity-secret-0123456789"
	env := map[string]string{
		"VISITRACK_ADMIN_TOKEN":     admin,
		"VISITRACK_RECOGNITION_KEY": "5f1c0a7e9b3d2c4e6a8f0b1d3e5c7a9b2d4f6e8a0c1b3d5e7f9a2c4e6b8d0f1a",
	}
	ctx := context.Background()
	var urls []string
	for range 2 {
		m := daemon.New(io.Discard, io.Discard)
		if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--database", database,
			"--allowed-origins", origin, "--log-level", "error", "--identity-secret", identitySecret},
			func(k string) string { return env[k] }); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := m.Close(ctx); err != nil {
				t.Errorf("close: %v", err)
			}
		})
		urls = append(urls, m.URL())
	}
	proxy, err := rrproxy.Start(urls...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })

	st, closeDB, err := daemon.OpenDatabase(ctx, database, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	tokens := map[string]string{}
	for _, sc := range conformance.NeededScopes() {
		_, secret, err := st.CreateToken(ctx, []string{sc})
		if err != nil {
			t.Fatal(err)
		}
		tokens[sc] = secret
	}
	conformance.Run(t, conformance.Target{BaseURL: proxy.URL(), AdminToken: admin, Origin: origin, Tokens: tokens, IdentitySecret: identitySecret})
	t.Logf("requests answered: node 0 %d, node 1 %d", proxy.Requests(0), proxy.Requests(1))
	// Both nodes answered a fair share: the proxy alternated.
	for i := range urls {
		if n := proxy.Requests(i); n < (proxy.Requests(0)+proxy.Requests(1))/3 {
			t.Errorf("node %d answered %d of %d requests: the proxy did not alternate", i, n, proxy.Requests(0)+proxy.Requests(1))
		}
	}
}
