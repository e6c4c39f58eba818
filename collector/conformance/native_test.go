package conformance_test

import (
	"context"
	"io"
	"testing"
	"time"

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
