package postgres_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// ulidAt is a ULID made at t: the time in ten base-32 digits, then
// sixteen of "randomness" (rest, padded).
func ulidAt(t time.Time, rest string) string {
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	ms := t.UnixMilli()
	b := make([]byte, 10)
	for i := 9; i >= 0; i-- {
		b[i] = digits[ms%32]
		ms /= 32
	}
	return string(b) + fmt.Sprintf("%016s", rest)
}

// partitionOf returns the partition that holds event id.
func partitionOf(t *testing.T, db *sql.DB, id string) string {
	t.Helper()
	var p string
	if err := db.QueryRow(`SELECT tableoid::regclass::text FROM events WHERE event_id = $1`, id).Scan(&p); err != nil {
		t.Fatalf("event %s: %v", id, err)
	}
	return p
}

// partitionNames lists the partitions of events.
func partitionNames(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		out = append(out, n)
	}
	return out
}

const insertEvent = `INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at)
	VALUES ($1, $2, 'V', 'S', $3, 'business', $4, $4, $4)`

// TestMigratePartitionsEvents: migration 0019 turns a non-empty events
// table into a partitioned one: every row keeps its rowid and lands in
// its month (ids of no month in events_default), the rowid sequence
// continues past the old rows, resent events are still deduplicated, and
// deleting an event still uncounts it from the rollups.
func TestMigratePartitionsEvents(t *testing.T) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The schema as the previous collector left it.
	if _, err := db.Exec(`CREATE TABLE schema_migrations (name text COLLATE "C" PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	names, err := fs.Glob(postgres.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if name >= "0019" {
			break
		}
		body, err := fs.ReadFile(postgres.Migrations(), name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES ($1, 0)`, name); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	old := month.AddDate(0, -14, 0).Add(36 * time.Hour)
	ids := map[string]string{
		ulidAt(old, "A"):                          fmt.Sprintf("events_%04d_%02d", old.Year(), int(old.Month())),
		ulidAt(now, "B"):                          fmt.Sprintf("events_%04d_%02d", now.Year(), int(now.Month())),
		ulidAt(month.AddDate(-40, 0, 0), "C"):     "events_default", // a clock 40 years behind
		ulidAt(month.AddDate(0, 3, 0), "D"):       fmt.Sprintf("events_%04d_%02d", month.AddDate(0, 3, 0).Year(), int(month.AddDate(0, 3, 0).Month())),
		ulidAt(month.AddDate(0, 4, 0), "E"):       "events_default", // past the months made ahead
		ulidAt(month.Add(-time.Millisecond), "F"): fmt.Sprintf("events_%04d_%02d", month.AddDate(0, -1, 0).Year(), int(month.AddDate(0, -1, 0).Month())),
	}
	order := slices.Sorted(func(yield func(string) bool) {
		for id := range ids {
			if !yield(id) {
				return
			}
		}
	})
	for _, id := range order {
		// received_at is the server's clock: the oldest makes the first month.
		at := now.UnixMilli()
		if strings.HasSuffix(id, "A") {
			at = old.UnixMilli()
		}
		if _, err := db.Exec(insertEvent, id, "VISIT", "PageEntered", at); err != nil {
			t.Fatal(err)
		}
	}
	// A gap in the sequence (a rolled-back insert) must survive too.
	if _, err := db.Exec(`SELECT nextval('events_rowid_seq')`); err != nil {
		t.Fatal(err)
	}
	rowids := map[string]int64{}
	for id := range ids {
		var r int64
		if err := db.QueryRow(`SELECT rowid FROM events WHERE event_id = $1`, id).Scan(&r); err != nil {
			t.Fatal(err)
		}
		rowids[id] = r
	}
	// The day rollup of event C (the others are left out of it).
	day := now.UnixMilli() / 86400000 * 86400000
	if _, err := db.Exec(`INSERT INTO stats_events VALUES (86400000, $1, 'PageEntered', 0, 1)`, day); err != nil {
		t.Fatal(err)
	}

	if err := postgres.Migrate(ctx, db, time.Now); err != nil {
		t.Fatal(err)
	}

	var kind string
	if err := db.QueryRow(`SELECT relkind::text FROM pg_class WHERE relname = 'events'`).Scan(&kind); err != nil || kind != "p" {
		t.Fatalf("events has relkind %q (%v); want p, partitioned", kind, err)
	}
	for id, want := range ids {
		if got := partitionOf(t, db, id); got != want {
			t.Errorf("event %s is in %s; want %s", id, got, want)
		}
		var r int64
		if err := db.QueryRow(`SELECT rowid FROM events WHERE event_id = $1`, id).Scan(&r); err != nil || r != rowids[id] {
			t.Errorf("event %s has rowid %d (%v); want %d as before", id, r, err, rowids[id])
		}
	}
	fresh := ulidAt(now, "G")
	if _, err := db.Exec(insertEvent, fresh, "VISIT", "Click", now.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	var r int64
	if err := db.QueryRow(`SELECT rowid FROM events WHERE event_id = $1`, fresh).Scan(&r); err != nil || r != int64(len(ids))+2 {
		t.Errorf("the next event has rowid %d (%v); want %d, after the old rows and the sequence's gap", r, err, len(ids)+2)
	}
	res, err := db.Exec(insertEvent+` ON CONFLICT (event_id) DO NOTHING`, fresh, "VISIT", "Click", now.UnixMilli())
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 0 {
		t.Errorf("a resent event inserted %d rows; want 0", n)
	}
	for _, id := range order {
		if strings.HasSuffix(id, "C") {
			if _, err := db.Exec(`DELETE FROM events WHERE event_id = $1`, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	var left int
	if err := db.QueryRow(`SELECT count(*) FROM stats_events`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d rollup rows after the event's delete (%v); want 0: the trigger must uncount it", left, err)
	}
}

// partitionsRound runs one round of the partitions job.
func partitionsRound(t *testing.T, s *store.Store, in *ingest.Ingester, cfg postgres.PartitionsConfig) int {
	t.Helper()
	job, err := postgres.PartitionsJob(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r, err := maintain.Start(context.Background(), maintain.Config{Writer: in, Store: s, Once: true}, job)
	if err != nil {
		t.Fatal(err)
	}
	return r.Did()[0]
}

// TestPartitionsJob: the job makes the months ahead, moving the rows the
// default partition held of them without uncounting them; with a
// retention it drops the partitions wholly older than it that hold no
// event of a stored visit, and keeps the one that does until retention
// has deleted that visit.
func TestPartitionsJob(t *testing.T) {
	s := storetest.NewPostgres(t)
	db := s.DB()
	now := time.Date(2031, 6, 15, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := identity.NewSigner(make([]byte, 32), 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())

	// An event from a clock two months ahead, before any partition of its
	// month exists, counted in the rollups.
	ahead := ulidAt(time.Date(2031, 8, 3, 0, 0, 0, 0, time.UTC), "AHEAD")
	storetest.Exec(t, s, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at)
		VALUES (?, 'GONE', 'V', 'S', 'Click', 'business', 1, 1, 1)`, ahead)
	storetest.Exec(t, s, `INSERT INTO stats_events VALUES (86400000, 0, 'Click', 0, 1)`)
	if got := partitionOf(t, db, ahead); got != "events_default" {
		t.Fatalf("the early event is in %s; want events_default", got)
	}

	cfg := postgres.PartitionsConfig{Retention: 30 * 24 * time.Hour, Now: clock}
	if n := partitionsRound(t, s, in, cfg); n < 4 {
		t.Fatalf("the first round made or dropped %d partitions; want at least the 4 of June to September 2031", n)
	}
	parts := partitionNames(t, db)
	for _, want := range []string{"events_2031_06", "events_2031_07", "events_2031_08", "events_2031_09", "events_default"} {
		if !slices.Contains(parts, want) {
			t.Errorf("partitions %v lack %s", parts, want)
		}
	}
	if slices.Contains(parts, "events_2031_10") {
		t.Errorf("partitions %v: more than three months ahead", parts)
	}
	if got := partitionOf(t, db, ahead); got != "events_2031_08" {
		t.Errorf("the early event is in %s; want events_2031_08", got)
	}
	if n := storetest.Count(t, s, "stats_events", ""); n != 1 {
		t.Errorf("%d rollup rows after the move; want 1: moving a row must not uncount it", n)
	}
	if n := partitionsRound(t, s, in, cfg); n != 0 {
		t.Errorf("a second round made or dropped %d partitions; want 0", n)
	}

	// A visit that ended in July 2031 and is still stored (retention has
	// not reached it), with an event in July's partition.
	july := time.Date(2031, 7, 20, 0, 0, 0, 0, time.UTC)
	storetest.Exec(t, s, `INSERT INTO visits (visit_id, visitor_id, session_id, started_at, last_seen_at, ended_at)
		VALUES ('KEPT', 'V', 'S', ?, ?, ?)`, july.UnixMilli(), july.UnixMilli(), july.UnixMilli())
	kept := ulidAt(july, "KEPT")
	storetest.Exec(t, s, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at)
		VALUES (?, 'KEPT', 'V', 'S', 'Click', 'business', ?, ?, ?)`, kept, july.UnixMilli(), july.UnixMilli(), july.UnixMilli())

	// A year later: June to September 2031 are wholly older than the
	// retention and its margin.
	now = time.Date(2032, 9, 15, 0, 0, 0, 0, time.UTC)
	partitionsRound(t, s, in, cfg)
	parts = partitionNames(t, db)
	for _, gone := range []string{"events_2031_06", "events_2031_08", "events_2031_09"} {
		if slices.Contains(parts, gone) {
			t.Errorf("partitions %v keep %s, which holds no event of a stored visit", parts, gone)
		}
	}
	if !slices.Contains(parts, "events_2031_07") {
		t.Fatalf("partitions %v lost events_2031_07, which holds an event of stored visit KEPT", parts)
	}
	if n := storetest.Count(t, s, "events", "event_id = ?", kept); n != 1 {
		t.Fatalf("visit KEPT has %d events; want 1", n)
	}
	for _, want := range []string{"events_2032_09", "events_2032_12", "events_default"} {
		if !slices.Contains(parts, want) {
			t.Errorf("partitions %v lack %s", parts, want)
		}
	}

	// Retention takes the visit; the next round drops July.
	if _, err := s.PurgeVisits(context.Background(), db, now.Add(-cfg.Retention), store.MaxPurgeBatch); err != nil {
		t.Fatal(err)
	}
	if n := partitionsRound(t, s, in, cfg); n != 1 {
		t.Errorf("the round after retention made or dropped %d partitions; want 1", n)
	}
	if parts = partitionNames(t, db); slices.Contains(parts, "events_2031_07") {
		t.Errorf("partitions %v keep events_2031_07 after retention emptied it", parts)
	}
}

// TestPartitionsJobLockTimeout: a round that cannot take the table's lock
// (an export reads events in a long transaction) fails after the lock
// timeout instead of stalling ingest behind it, and the writer goes on.
func TestPartitionsJobLockTimeout(t *testing.T) {
	s := storetest.NewPostgres(t)
	now := time.Date(2033, 1, 10, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := identity.NewSigner(make([]byte, 32), 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())
	reader, err := s.DB().Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Rollback()
	if _, err := reader.Exec(`SELECT count(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	job, err := postgres.PartitionsJob(postgres.PartitionsConfig{Now: clock, LockTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = maintain.Start(context.Background(), maintain.Config{Writer: in, Store: s, Once: true}, job)
	if err == nil || !strings.Contains(err.Error(), "lock timeout") {
		t.Fatalf("round under a reader's lock: %v; want a lock timeout", err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the round took %s to give up", d)
	}
	reader.Rollback()
	if _, err := maintain.Start(context.Background(), maintain.Config{Writer: in, Store: s, Once: true}, job); err != nil {
		t.Fatalf("round after the reader: %v", err)
	}
}
