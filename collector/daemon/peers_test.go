package daemon_test

import (
	"io"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/daemon"
)

// --listen-database (VISITRACK_LISTEN_DATABASE) points the cross-node
// push's LISTEN connection past a transaction-pooling PgBouncer; it means
// nothing without --database, and must be a postgres:// URL.
func TestListenDatabaseFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	const db, direct = "postgres://v:pw@pgbouncer:6432/v", "postgres://v:pw@db:5432/v"
	if c, err := parse(nil, "--database", db); err != nil || c.ListenDatabase != "" {
		t.Fatalf("default: %q, %v", c.ListenDatabase, err)
	}
	if c, err := parse(map[string]string{"VISITRACK_LISTEN_DATABASE": direct}, "--database", db); err != nil || c.ListenDatabase != direct {
		t.Fatalf("from env: %q, %v", c.ListenDatabase, err)
	}
	for _, bad := range [][]string{{"--listen-database", direct}, {"--database", db, "--listen-database", "db:5432"}} {
		if _, err := parse(nil, bad...); err == nil || !strings.Contains(err.Error(), "--listen-database") {
			t.Errorf("%q: %v, want a refusal that names --listen-database", bad, err)
		}
	}
}
