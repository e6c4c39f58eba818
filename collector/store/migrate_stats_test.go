package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
)

// TestMigrationCountsOldEvents: the migration that brings the stats
// rollups counts the events an older collector stored, so that the stats
// cover the history from the first day.
func TestMigrationCountsOldEvents(t *testing.T) {
	ctx := context.Background()
	db := databaseBefore(t, "0009_insight.sql")
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO visits (visit_id, visitor_id, state, session_id, started_at, last_seen_at)
		VALUES ('01JD0000000000000000000001', '01JD0000000000000000000002', 'anonymous', '01JD0000000000000000000003', ?, ?)`, at, at)
	for i, e := range []struct{ name, url string }{
		{"PageEntered", "https://shop.example/?utm_source=x"}, {"PageEntered", "https://shop.example/shoes"},
		{"PageEntered", "https://shop.example/"}, {"Click", "https://shop.example/"},
	} {
		exec(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at, url)
			VALUES (?, '01JD0000000000000000000001', '01JD0000000000000000000002', '01JD0000000000000000000003', ?, 'system', ?, ?, ?, ?)`,
			fmt.Sprintf("01JD00000000000000000000E%d", i), e.name, at+int64(i)*1000, at+int64(i)*1000, at, e.url)
	}
	s := store.New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := collector.StatsFilter{Since: time.UnixMilli(at).Add(-24 * time.Hour), Until: time.UnixMilli(at).Add(24 * time.Hour), Bots: collector.BotsExclude}
	sum, err := s.Summary(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 4 || sum.Pageviews != 3 || sum.Visits != 1 {
		t.Errorf("after the migration: %+v, want 1 visit, 3 pageviews, 4 events", sum)
	}
	pages, err := s.Breakdown(ctx, f, "page", 10)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(pages) != "[{https://shop.example/ 2} {https://shop.example/shoes 1}]" {
		t.Errorf("pages after the migration: %v", pages)
	}
}

// TestMigrationCountsVisitEvents: the migration that keeps an event count
// on each visit counts the events an older collector stored.
func TestMigrationCountsVisitEvents(t *testing.T) {
	ctx := context.Background()
	db := databaseBefore(t, "0012_visit_event_count.sql")
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for v, events := range []int{3, 0, 1} {
		visit := fmt.Sprintf("01JD000000000000000000000%d", v)
		exec(`INSERT INTO visits (visit_id, visitor_id, state, session_id, started_at, last_seen_at)
			VALUES (?, '01JD0000000000000000000002', 'anonymous', '01JD0000000000000000000003', ?, ?)`, visit, at, at)
		for i := 0; i < events; i++ {
			exec(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at)
				VALUES (?, ?, '01JD0000000000000000000002', '01JD0000000000000000000003', 'Click', 'business', ?, ?, ?)`,
				fmt.Sprintf("01JD0000000000000000000E%d%d", v, i), visit, at, at, at)
		}
	}
	s := store.New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for v, want := range []int{3, 0, 1} {
		visit, err := s.FindVisit(ctx, fmt.Sprintf("01JD000000000000000000000%d", v))
		if err != nil {
			t.Fatal(err)
		}
		if visit.EventCount != want {
			t.Errorf("visit %d after the migration: eventCount %d, want %d", v, visit.EventCount, want)
		}
	}
}
