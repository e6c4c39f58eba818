package fromsqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/postgres/fromsqlite"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

func TestMain(m *testing.M) {
	if os.Getenv(childFrom) != "" {
		copyAsChild()
		return
	}
	pgtest.Main(m)
}

// newSource makes a data directory with a migrated SQLite file and lets
// fill write into it, as a collector would have.
func newSource(t *testing.T, fill func(s *store.Store)) string {
	t.Helper()
	dir := t.TempDir()
	s, closeDB, err := daemon.OpenDatabase(context.Background(), "", dir)
	if err != nil {
		t.Fatal(err)
	}
	fill(s)
	if err := closeDB(); err != nil {
		t.Fatal(err)
	}
	return dir
}

// sqliteTables lists the tables of the source file.
func sqliteTables(t *testing.T, dir string) map[string]int64 {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(dir, "visitrack.db")+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		names = append(names, n)
	}
	rows.Close()
	out := map[string]int64{}
	for _, n := range names {
		var c int64
		if err := db.QueryRow(`SELECT count(*) FROM "` + n + `"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[n] = c
	}
	return out
}

// fillEveryTable writes one made-up row into each table the history left
// empty, from the table's own column list, so that a table a later
// migration adds is filled (and so copied and verified) without a change
// here.
func fillEveryTable(t *testing.T, s *store.Store) {
	t.Helper()
	ctx := context.Background()
	rows, err := s.DB().QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		rows.Scan(&n)
		tables = append(tables, n)
	}
	rows.Close()
	for _, table := range tables {
		var n int
		s.DB().QueryRowContext(ctx, `SELECT count(*) FROM "`+table+`"`).Scan(&n)
		if n > 0 {
			continue
		}
		cols, err := s.DB().QueryContext(ctx, `SELECT name, type, hidden FROM pragma_table_xinfo(?)`, table)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		var vals []any
		for cols.Next() {
			var name, typ string
			var hidden int
			cols.Scan(&name, &typ, &hidden)
			if hidden != 0 {
				continue
			}
			names = append(names, `"`+name+`"`)
			if strings.EqualFold(typ, "INTEGER") {
				vals = append(vals, int64(len(vals)+1))
			} else {
				vals = append(vals, table+" "+name+" ✓")
			}
		}
		cols.Close()
		q := fmt.Sprintf(`INSERT INTO "%s" (%s) VALUES (%s)`, table, strings.Join(names, ", "),
			strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", "))
		if _, err := s.DB().ExecContext(ctx, q, vals...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// targetCount counts a table in the PostgreSQL database at u.
func targetCount(t *testing.T, u, table string) int64 {
	t.Helper()
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int64
	if err := db.QueryRow(`SELECT count(*) FROM "` + table + `"`).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// Every table of the SQLite schema is either copied, row for row and
// verified, or skipped with a reason; none is left out silently.
func TestEveryTableCopiedOrSkipped(t *testing.T) {
	ctx := context.Background()
	marchAt := time.Date(2025, 3, 10, 8, 0, 0, 0, time.UTC)
	march := ulidAt(marchAt)
	dir := newSource(t, func(s *store.Store) {
		storetest.Seed(t, s)
		storetest.SeedBulk(t, s, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 20, 30)
		// An event whose ULID was made when it was received, in March 2025.
		storetest.Exec(t, s, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at)
			VALUES (?, 'V', 'V', 'S', 'Click', 'business', ?, ?, ?)`, march, marchAt.UnixMilli(), marchAt.UnixMilli(), marchAt.UnixMilli())
		if _, err := s.EnsureToken(ctx, "vt_source_admin_token", []string{"admin"}); err != nil {
			t.Fatal(err)
		}
		fillEveryTable(t, s)
	})
	source := sqliteTables(t, dir)
	u := pgtest.NewDatabase(t)
	res, err := fromsqlite.Run(ctx, fromsqlite.Config{From: dir, To: u, Batch: 100})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, tb := range res.Tables {
		seen[tb.Name] = true
		if tb.Rows != source[tb.Name] || tb.Rows == 0 {
			t.Errorf("%s: copied %d rows, the source has %d", tb.Name, tb.Rows, source[tb.Name])
		}
		if got := targetCount(t, u, tb.Name); got != source[tb.Name] {
			t.Errorf("%s: the target has %d rows, the source %d", tb.Name, got, source[tb.Name])
		}
		if len(tb.Digest) != 64 {
			t.Errorf("%s: digest %q", tb.Name, tb.Digest)
		}
	}
	for _, sk := range res.Skipped {
		seen[sk.Name] = true
		if sk.Reason == "" {
			t.Errorf("%s skipped without a reason", sk.Name)
		}
	}
	for name := range source {
		if !seen[name] {
			t.Errorf("table %s was neither copied nor skipped", name)
		}
	}
	if res.Resumed {
		t.Error("a first run says it resumed")
	}
	// The copied rowids stay, and the sequences continue after them: a
	// token created now sorts after the copied ones.
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := postgres.NewStore(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureToken(ctx, "vt_after_the_move", []string{"history:read"}); err != nil {
		t.Fatalf("a token created after the copy: %v", err)
	}
	if err := s.DB().QueryRowContext(ctx, `SELECT 1 FROM pg_tables WHERE tablename = 'visitrack_migrate_progress'`).Scan(new(int)); err != sql.ErrNoRows {
		t.Errorf("the progress table is still there after a finished copy (%v)", err)
	}
	// The copy made the months of the source's events: the March event
	// is in March's partition, which retention can drop, not in the
	// default one.
	var part string
	if err := s.DB().QueryRowContext(ctx, `SELECT tableoid::regclass::text FROM events WHERE event_id = ?`, march).Scan(&part); err != nil || part != "events_2025_03" {
		t.Errorf("the March 2025 event is in partition %q (%v); want events_2025_03", part, err)
	}
	if high, err := s.EventsHighWater(ctx, s.DB()); err != nil || high != source["events"] {
		t.Errorf("events high water %d (%v), want the source's last rowid %d", high, err, source["events"])
	}
	tables := slices.Collect(func(yield func(string) bool) {
		for _, tb := range res.Tables {
			if !yield(tb.Name) {
				return
			}
		}
	})
	for _, want := range []string{"events", "visits", "visitors", "identities", "tokens", "webhook_deliveries", "stats_events"} {
		if !slices.Contains(tables, want) {
			t.Errorf("%s not copied (copied: %v)", want, tables)
		}
	}
}

// ulidAt is a ULID made at t: its time in ten base-32 digits, then zeros
// for the random part.
func ulidAt(t time.Time) string {
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	ms := t.UnixMilli()
	b := []byte("00000000000000000000000001")
	for i := 9; i >= 0; i-- {
		b[i] = digits[ms%32]
		ms /= 32
	}
	return string(b)
}
