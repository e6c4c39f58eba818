package edge_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/store"
)

// TestSweepTrimsRollups: the Cron Trigger's sweep (edge.Sweep) also
// deletes the stats rollup rows past their horizons, at most
// SweepTrimBatch a table a run, with D1's restrictions (no transactions):
// minute rows older than 48 h and hour rows older than 400 days go; newer
// minute rows, and day rows, stay.
func TestSweepTrimsRollups(t *testing.T) {
	ctx := context.Background()
	env := map[string]string{
		edge.EnvAdminToken:     "vt_edge-trim-admin-0123456789",
		edge.EnvRecognitionKey: strings.Repeat("c3", 32),
		edge.EnvAllowedOrigins: "http://shop.example",
	}
	db, _, _ := freshWorker(t, env)
	now := time.Now()
	old := now.Add(-72 * time.Hour).Truncate(time.Hour).UnixMilli()
	recent := now.Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	ancient := now.Add(-500 * 24 * time.Hour).Truncate(24 * time.Hour).UnixMilli()
	// More old minute rows of pages than a run deletes.
	oldPages := edge.SweepTrimBatch + 500
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO stats_pages (level, bucket, url, bot, n)
		WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ? - 1)
		SELECT 60000, ? + n % 60 * 60000, 'https://shop.example/p' || n, 0, 1 FROM i`, oldPages, old)
	exec(`INSERT INTO stats_pages (level, bucket, url, bot, n) VALUES (60000, ?, 'https://shop.example/', 0, 1), (3600000, ?, 'https://shop.example/', 0, 1)`, recent, old)
	exec(`INSERT INTO stats_events (level, bucket, name, bot, n) VALUES
		(60000, ?1, 'Click', 0, 1), (60000, ?2, 'Click', 0, 1), (3600000, ?1, 'Click', 0, 1),
		(3600000, ?3, 'Click', 0, 4), (86400000, ?3, 'Click', 0, 4)`, old, recent, ancient)

	count := func(table, where string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	minuteReach, hourReach := store.StatsReach(now)
	sweep := func() {
		t.Helper()
		if _, err := edge.Sweep(ctx, db, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler)); err != nil {
			t.Fatalf("Sweep: %v", err)
		}
	}
	sweep()
	if n := count("stats_pages", "level = 60000 AND bucket < ?", minuteReach.UnixMilli()); n != 500 {
		t.Errorf("after one run %d old minute rows of pages are left; want 500 (one batch of %d gone)", n, edge.SweepTrimBatch)
	}
	sweep()
	for _, table := range []string{"stats_pages", "stats_events"} {
		if n := count(table, "level = 60000 AND bucket < ?", minuteReach.UnixMilli()); n != 0 {
			t.Errorf("%s: %d minute rows past the horizon after two runs", table, n)
		}
		if n := count(table, "level = 60000 AND bucket = ?", recent); n != 1 {
			t.Errorf("%s: %d minute rows of an hour ago; want 1", table, n)
		}
		if n := count(table, "level = 3600000 AND bucket = ?", old); n != 1 {
			t.Errorf("%s: %d hour rows of three days ago; want 1", table, n)
		}
	}
	if n := count("stats_events", "level = 3600000 AND bucket < ?", hourReach.UnixMilli()); n != 0 {
		t.Errorf("%d hour rows past the hour horizon", n)
	}
	if n := count("stats_events", "level = 86400000 AND bucket = ?", ancient); n != 1 {
		t.Errorf("%d day rows of 500 days ago; want 1 (day rows stay)", n)
	}
}
