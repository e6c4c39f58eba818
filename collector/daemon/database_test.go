package daemon_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/daemon"
)

// --database: empty keeps SQLite in --data-dir; VISITRACK_DATABASE sets
// it; anything but a postgres:// URL is refused at the command line.
func TestDatabaseFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	if c, err := parse(nil); err != nil || c.Database != "" {
		t.Fatalf("default: %q, %v", c.Database, err)
	}
	const u = "postgres://visitrack:pw@db.internal:5432/visitrack"
	if c, err := parse(map[string]string{"VISITRACK_DATABASE": u}); err != nil || c.Database != u {
		t.Fatalf("from env: %q, %v", c.Database, err)
	}
	if c, err := parse(map[string]string{"VISITRACK_DATABASE": u}, "--database", "postgresql://other/db"); err != nil || c.Database != "postgresql://other/db" {
		t.Fatalf("flag over env: %q, %v", c.Database, err)
	}
	for _, bad := range []string{"mysql://root@localhost/visitrack", "./data/visitrack.db", "sqlite:///tmp/x.db"} {
		if _, err := parse(nil, "--database", bad); err == nil || !strings.Contains(err.Error(), "postgres://") {
			t.Errorf("--database %q: %v, want a refusal that names postgres://", bad, err)
		}
	}
}

// A start on a PostgreSQL that does not answer stops with one message
// that says where it tried, and leaves no listener behind.
func TestStartOnUnreachableDatabase(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	m := daemon.New(io.Discard, io.Discard)
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--database", fmt.Sprintf("postgres://visitrack:secret-pw@127.0.0.1:%d/visitrack", port)},
		func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	err = m.Run(context.Background())
	defer m.Close(context.Background())
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("cannot reach PostgreSQL at 127.0.0.1:%d", port)) ||
		strings.Contains(err.Error(), "secret-pw") {
		t.Fatalf("run: %v, want one message that PostgreSQL cannot be reached, without the password", err)
	}
}
