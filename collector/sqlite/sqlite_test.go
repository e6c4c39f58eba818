package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/sqlite"
)

// Every connection of the pool has the settings Open promises, not only
// the first one.
func TestOpenSettings(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	conns := make([]interface{ Close() error }, 0, 3)
	for i := 0; i < 3; i++ {
		c, err := db.Conn(ctx) // held, so that each is a different connection
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		for pragma, want := range map[string]string{
			"journal_mode": "wal", "synchronous": "1", "temp_store": "2",
			"wal_autocheckpoint": "0", "busy_timeout": "5000", "secure_delete": "1",
		} {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Errorf("connection %d: PRAGMA %s = %s, want %s", i, pragma, got, want)
			}
		}
	}
	for _, c := range conns {
		c.Close()
	}
}

// Purge empties the WAL; while a reader holds an old snapshot it cannot,
// and it keeps trying until its context ends, then says so.
func TestPurge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	walSize := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	if walSize() == 0 {
		t.Fatal("nothing in the WAL to purge")
	}
	if err := sqlite.Purge(ctx, db); err != nil {
		t.Fatal(err)
	}
	if n := walSize(); n != 0 {
		t.Fatalf("WAL of %d bytes after Purge", n)
	}

	// A reader on an old snapshot holds the purge off. (BEGIN by hand:
	// the pool's transactions are IMMEDIATE, writers.)
	reader, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var v string
	if _, err := reader.ExecContext(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	if err := reader.QueryRowContext(ctx, `SELECT v FROM t`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO t VALUES ('b')`); err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := sqlite.Purge(short, db); err == nil {
		t.Fatal("Purge reported success while a reader held an old snapshot")
	}
	if _, err := reader.ExecContext(ctx, `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Purge(ctx, db); err != nil {
		t.Fatal(err)
	}
	if n := walSize(); n != 0 {
		t.Fatalf("WAL of %d bytes after the reader left", n)
	}
}

// The pool keeps its connections between bursts of concurrent reads (the
// visitor data read of each /v1/collect request): none is closed and
// opened again for the next burst, with its statements prepared anew.
func TestOpenKeepsConnections(t *testing.T) {
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "v.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT)"); err != nil {
		t.Fatal(err)
	}
	const concurrent = 8
	for burst := 0; burst < 3; burst++ {
		// Held at once, so that the burst needs that many connections.
		conns := make([]interface{ Close() error }, 0, concurrent)
		for i := 0; i < concurrent; i++ {
			c, err := db.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var n int
			if err := c.QueryRowContext(ctx, "SELECT count(*) FROM kv WHERE k = ?", "a").Scan(&n); err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		for _, c := range conns {
			c.Close()
		}
	}
	st := db.Stats()
	if st.MaxIdleClosed != 0 || st.OpenConnections != concurrent {
		t.Fatalf("%d connections open, %d closed as surplus idle ones, want %d open and none closed", st.OpenConnections, st.MaxIdleClosed, concurrent)
	}
}
