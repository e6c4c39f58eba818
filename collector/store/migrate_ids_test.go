package store_test

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// upperMigration is the migration that upper-cases stored ids.
const upperMigration = "0005_upper_case_ids.sql"

// oldDatabase returns a SQLite file migrated up to, not including,
// upperMigration, as a collector before it left it.
func oldDatabase(t *testing.T) *sql.DB {
	t.Helper()
	return databaseBefore(t, upperMigration)
}

// databaseBefore returns a SQLite file migrated up to, not including, the
// migration named upTo.
func databaseBefore(t *testing.T, upTo string) *sql.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(ctx, `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(store.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, name := range names {
		if name >= upTo {
			found = found || name == upTo
			continue
		}
		body, err := fs.ReadFile(store.Migrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.ExecContext(ctx, `INSERT INTO schema_migrations VALUES (?, 0)`, name); err != nil {
			t.Fatal(err)
		}
	}
	if !found {
		t.Fatalf("migration %s is not embedded", upTo)
	}
	return db
}

// idColumns are the columns that hold ids, per table.
var idColumns = map[string][]string{
	"visitors":          {"visitor_id"},
	"visits":            {"visit_id", "visitor_id", "identity_id", "session_id"},
	"sessions":          {"session_id", "visit_id", "identity_id"},
	"pages":             {"page_id", "visit_id"},
	"events":            {"event_id", "visit_id", "visitor_id", "session_id", "identity_id", "page_id"},
	"identities":        {"identity_id"},
	"identity_visitors": {"identity_id", "visitor_id"},
	"visit_identities":  {"visit_id", "identity_id"},
	"visit_metadata":    {"visit_id"},
	"visitor_data":      {"substr(subject, instr(subject, ':') + 1)"},
}

// TestMigrateUpperCaseIDs seeds an old database with the rows lower-case
// ids left (some in two cases at once) and checks that the migration
// leaves every id in upper case, one row per id, readable and erasable.
func TestMigrateUpperCaseIDs(t *testing.T) {
	for mode, opts := range map[string][]store.Option{"sqlite": nil, "d1-like": {store.WithoutTransactions()}} {
		t.Run(mode, func(t *testing.T) { testMigrateUpperCaseIDs(t, opts) })
	}
}

func testMigrateUpperCaseIDs(t *testing.T, opts []store.Option) {
	ctx := context.Background()
	db := oldDatabase(t)
	id := func() string { return ulid.Make().String() }
	low := strings.ToLower
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	at := time.Now().Add(-time.Hour).UnixMilli()

	// Browser V sent lower-case ids only: visitor, visit X, page P,
	// events E1 (then again in upper case), E2 (in two lower-case
	// variants), metadata and visitor data; it claimed identity I.
	v, x, p, s, i := id(), id(), id(), id(), id()
	e1, e2 := id(), id()
	exec(`INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?, ?, ?)`, low(v), at, at)
	exec(`INSERT INTO identities (identity_id, user_id, first_seen_at, last_seen_at) VALUES (?, 'vera@example.com', ?, ?)`, i, at, at)
	exec(`INSERT INTO visits (visit_id, visitor_id, identity_id, state, session_id, started_at, last_seen_at)
		VALUES (?, ?, ?, 'recognized', ?, ?, ?)`, low(x), low(v), i, s, at, at)
	exec(`INSERT INTO sessions VALUES (?, ?, ?, 'recognized', 0, ?, NULL)`, s, low(x), i, at)
	exec(`INSERT INTO pages (page_id, visit_id, url, entered_at) VALUES (?, ?, 'https://shop.example/v', ?)`, low(p), low(x), at)
	event := func(eventID, visitID, visitorID, pageID, data string, t int64) {
		exec(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, identity_id, page_id, name, category,
			timestamp, corrected_at, received_at, data) VALUES (?, ?, ?, ?, ?, ?, 'Clicked', 'business', ?, ?, ?, ?)`,
			eventID, visitID, visitorID, s, i, pageID, t, t, t, data)
	}
	event(low(e1), low(x), low(v), low(p), `{"copy":"lower"}`, at)
	event(e1, low(x), low(v), low(p), `{"copy":"upper"}`, at)
	e2mixed := e2[:13] + low(e2[13:])
	event(low(e2), low(x), low(v), low(p), `{"copy":"lower"}`, at+1)
	event(e2mixed, low(x), low(v), low(p), `{"copy":"mixed"}`, at+1)
	exec(`INSERT INTO identity_visitors VALUES (?, ?, ?)`, i, low(v), at)
	exec(`INSERT INTO visit_identities VALUES (?, ?, 'recognized', 0, ?)`, low(x), i, at)
	exec(`INSERT INTO visit_metadata VALUES (?, 1, '{"crm":1}', ?)`, low(x), at)
	exec(`INSERT INTO visitor_data VALUES (?, 2, '{"a":{"b":1}}', ?)`, "visitor:"+low(v), at)

	// Browser D is stored in both cases: its visit Y too, with an event
	// in each, and both have visitor data and a link to I.
	d, y, e3, e4 := id(), id(), id(), id()
	for _, c := range []string{low(d), d} {
		exec(`INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?, ?, ?)`, c, at, at)
		exec(`INSERT INTO identity_visitors VALUES (?, ?, ?)`, i, c, at)
	}
	for _, c := range []string{low(y), y} {
		exec(`INSERT INTO visits (visit_id, visitor_id, state, session_id, started_at, last_seen_at) VALUES (?, ?, 'anonymous', ?, ?, ?)`,
			c, d, s, at, at)
		exec(`INSERT INTO visit_identities VALUES (?, ?, 'stitched', 0, ?)`, c, i, at)
	}
	event(e3, low(y), low(d), "", `{}`, at)
	event(e4, y, d, "", `{}`, at+1)
	exec(`INSERT INTO visitor_data VALUES (?, 5, '{"lower":{}}', ?)`, "visitor:"+low(d), at)
	exec(`INSERT INTO visitor_data VALUES (?, 7, '{"upper":{}}', ?)`, "visitor:"+d, at)

	st := store.New(db, opts...)
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if err := st.Migrate(ctx); err != nil {
		t.Fatalf("migrate again: %v", err)
	}

	for table, cols := range idColumns {
		for _, c := range cols {
			if n := storetest.Count(t, st, table, c+" <> upper("+c+")"); n != 0 {
				t.Errorf("%s.%s: %d ids still have a lower-case letter", table, c, n)
			}
		}
	}
	want := map[string]int{"visitors": 2, "visits": 2, "sessions": 1, "pages": 1, "events": 4, "identities": 1,
		"identity_visitors": 2, "visit_identities": 2, "visitor_data": 2, "visit_metadata": 1}
	for table, n := range want {
		if got := storetest.Count(t, st, table, ""); got != n {
			t.Errorf("%s: %d rows, want %d", table, got, n)
		}
	}
	var data string
	if err := db.QueryRowContext(ctx, `SELECT data FROM events WHERE event_id = ?`, e1).Scan(&data); err != nil || data != `{"copy":"upper"}` {
		t.Errorf("event %s: data %s (%v), want the upper-case copy kept", e1, data, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT data FROM events WHERE event_id = ?`, e2).Scan(&data); err != nil || data != `{"copy":"mixed"}` {
		t.Errorf("event %s: data %s (%v), want the most upper-cased copy kept", e2, data, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT data FROM visitor_data WHERE subject = ?`, "visitor:"+d).Scan(&data); err != nil || data != `{"upper":{}}` {
		t.Errorf("visitor data of %s: %s (%v), want the upper-case subject's kept", d, data, err)
	}

	// What the REST API asks (in upper case) is found.
	if _, err := st.FindVisit(ctx, x); err != nil {
		t.Fatalf("visit %s: %v", x, err)
	}
	if _, err := st.FindPage(ctx, p); err != nil {
		t.Fatalf("page %s: %v", p, err)
	}
	events, _, err := st.FindEvents(ctx, collector.EventFilter{VisitID: y})
	if err != nil || len(events) != 2 {
		t.Fatalf("events of visit %s: %d (%v), want both cases' events in it", y, len(events), err)
	}
	vd, err := store.NewVisitorData(st).GetVisitorData(ctx, collector.Subject{Kind: collector.SubjectVisitor, ID: v})
	if err != nil || vd.Version != 2 {
		t.Fatalf("visitor data of %s: %+v (%v), want version 2", v, vd, err)
	}

	// And erased.
	if err := st.DeleteVisitor(ctx, v, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := mentions(t, st, v, x, p, e1, e2); n != 0 {
		t.Errorf("%d rows still mention erased visitor %s", n, v)
	}
}
