package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector/store/sqlite"
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
