package daemon_test

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/sqlite"
)

// TestRetentionFlag: --retention is off by default, takes days, reads
// VISITRACK_RETENTION, and refuses less than an hour at start.
func TestRetentionFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	if c, err := parse(nil); err != nil || c.Retention != 0 {
		t.Fatalf("default: %v, %v", c.Retention, err)
	}
	if c, err := parse(nil, "--retention", "400d"); err != nil || c.Retention != 400*24*time.Hour {
		t.Fatalf("400d: %v, %v", c.Retention, err)
	}
	if c, err := parse(map[string]string{"VISITRACK_RETENTION": "36h"}); err != nil || c.Retention != 36*time.Hour {
		t.Fatalf("VISITRACK_RETENTION=36h: %v, %v", c.Retention, err)
	}
	if _, err := parse(nil, "--retention", "30m"); err == nil || !strings.Contains(err.Error(), "--retention") || !strings.Contains(err.Error(), "at least") {
		t.Fatalf("30m: %v", err)
	}
}

// TestRetentionDeletesOldVisits: a collector started with --retention
// deletes, by itself, a visit that ended long ago, from every table, and
// keeps a recent one and the old visit's visitor.
func TestRetentionDeletesOldVisits(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir)
	recent := collectortest.NewID()
	if a := collect(t, col.URL(), collectortest.NewID(), recent, 5); a.status != 200 {
		t.Fatalf("collect: %+v", a)
	}
	col.Stop()

	db, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	old, visitor := collectortest.NewID(), collectortest.NewID()
	at := time.Now().Add(-10 * 24 * time.Hour).UnixMilli()
	for _, q := range []string{
		`INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?2, ?3, ?3)`,
		`INSERT INTO visits (visit_id, visitor_id, session_id, started_at, last_seen_at, ended_at) VALUES (?1, ?2, ?1, ?3, ?3, ?3)`,
		`INSERT INTO sessions (session_id, visit_id, state, verified, started_at) VALUES (?1, ?1, 'anonymous', 0, ?3)`,
		`INSERT INTO pages (page_id, visit_id, entered_at) VALUES (?1, ?1, ?3)`,
		`INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at, visit_key)
			VALUES (?1, ?1, ?2, ?1, 'Click', 'business', ?3, ?3, ?3, (SELECT visit_key FROM visits WHERE visit_id = ?1))`,
		`INSERT INTO visit_metadata (visit_id, version, data, updated_at) VALUES (?1, 1, '{}', ?3)`,
		`INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at) VALUES (?1, 'someone', 'recognized', 0, ?3)`,
	} {
		if _, err := db.Exec(q, old, visitor, at); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()

	col = collectortest.StartIn(t, dir, "--retention", "1h")
	waitFor(t, "the old visit to be deleted", func() bool {
		status, _ := col.Do("GET", "/v1/visits/"+old, nil)
		return status == 404
	})
	if n := len(listEvents(t, col.URL(), col.AdminToken, recent)); n != 5 {
		t.Fatalf("the recent visit has %d events left; want 5", n)
	}
	col.Stop()
	db, err = sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"visits", "sessions", "pages", "events", "visit_metadata", "visit_identities"} {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM `+table+` WHERE visit_id = ?`, old).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s keeps %d rows of the expired visit", table, n)
		}
	}
	var n int
	db.QueryRow(`SELECT count(*) FROM visitors WHERE visitor_id = ?`, visitor).Scan(&n)
	if n != 1 {
		t.Error("retention deleted the visitor; only erasure may")
	}
}
