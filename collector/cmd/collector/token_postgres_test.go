package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The token subcommands reach a PostgreSQL collector's database with
// --database or VISITRACK_DATABASE, and never touch --data-dir then.
func TestTokenCommandsOnPostgres(t *testing.T) {
	u := pgtest.NewDatabase(t)
	dir := t.TempDir()
	out, _, err := tokenCmd(t, "create", "--database", u, "--data-dir", dir, "--scope", "history:read")
	if err != nil || !strings.HasPrefix(out, "vt_") {
		t.Fatalf("create: %q, %v", out, err)
	}
	t.Setenv("VISITRACK_DATABASE", u)
	out, _, err = tokenCmd(t, "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "history:read") {
		t.Fatalf("list from VISITRACK_DATABASE: %q, %v", out, err)
	}
	if _, _, err := tokenCmd(t, "list", "--database", "mysql://x/y"); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("list on a MySQL URL: %v", err)
	}
	if n := len(mustGlob(t, dir+"/*")); n != 0 {
		t.Fatalf("the token commands on PostgreSQL wrote %d files into --data-dir", n)
	}
}

func mustGlob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
