package daemon_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/shared/protocol"
)

// A stopped collector leaves its whole history in visitrack.db, its
// write-ahead log empty, even while another connection to the file
// lingers (which keeps SQLite's own checkpoint at the last close from
// running): copying the one file after a stop is a whole copy
// (docs/operations.md#shutdown).
func TestShutdownEmptiesTheLog(t *testing.T) {
	dir := t.TempDir()
	m := runWithEnv(t, dir, nil)
	c := collectortest.Dial(t, "ws://"+m.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	c.SendEvents(false, collectortest.Event("Purchase", collectortest.NewID(), map[string]any{"total": 42}))
	c.Conn.CloseNow()

	other, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("close: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "visitrack.db-wal")); err == nil && fi.Size() != 0 {
		t.Errorf("the write-ahead log holds %d bytes after the collector stopped, want 0", fi.Size())
	}
	// The event is in the file itself.
	copyPath := filepath.Join(t.TempDir(), "copy.db")
	b, err := os.ReadFile(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(copyPath, b, 0o600); err != nil {
		t.Fatal(err)
	}
	cp, err := sqlite.Open(copyPath)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	var n int
	if err := cp.QueryRow(`SELECT count(*) FROM events WHERE name = 'Purchase'`).Scan(&n); err != nil || n != 1 {
		t.Errorf("a copy of visitrack.db alone has %d Purchase events (%v), want 1", n, err)
	}
}
