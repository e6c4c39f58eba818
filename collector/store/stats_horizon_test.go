package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestTrimStats: TrimStats deletes, at most limit rows a table a call,
// the minute rows before the minute reach (48 h, whole hours) and the
// hour rows before the hour reach (400 days, whole days); it keeps the
// minute rows within the reach, the hour rows within theirs, and every
// day row.
func TestTrimStats(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 34, 56, 0, time.UTC)
	s := storetest.New(t, store.WithClock(func() time.Time { return now }))
	ms := func(s string) int64 { v, _ := time.Parse(time.RFC3339, s); return v.UnixMilli() }
	minuteReach, hourReach := store.StatsReach(now)
	if want := ms("2026-11-29T12:00:00Z"); minuteReach.UnixMilli() != want {
		t.Fatalf("minute reach %s", minuteReach)
	}
	if want := ms("2025-10-27T00:00:00Z"); hourReach.UnixMilli() != want {
		t.Fatalf("hour reach %s", hourReach)
	}
	rows := []struct {
		level  int64
		bucket string
		keep   bool
	}{
		{60000, "2026-11-29T11:59:00Z", false}, // just before the minute reach
		{60000, "2026-11-20T08:00:00Z", false},
		{60000, "2026-11-29T12:00:00Z", true}, // the reach itself
		{60000, "2026-12-01T12:34:00Z", true},
		{3600000, "2025-10-26T23:00:00Z", false}, // just before the hour reach
		{3600000, "2025-10-27T00:00:00Z", true},
		{3600000, "2026-11-20T08:00:00Z", true},
		{86400000, "2024-01-01T00:00:00Z", true},
	}
	for _, r := range rows {
		storetest.Exec(t, s, `INSERT INTO stats_events (level, bucket, name, bot, n) VALUES (?, ?, 'Click', 0, 1), (?, ?, 'Buy', 1, 1)`, r.level, ms(r.bucket), r.level, ms(r.bucket))
		storetest.Exec(t, s, `INSERT INTO stats_pages (level, bucket, url, bot, n) VALUES (?, ?, 'https://shop.example/', 0, 1)`, r.level, ms(r.bucket))
	}
	ctx := context.Background()
	// 6 rows of stats_events and 3 of stats_pages are due: 2 a table a call.
	var got []int
	for {
		n, err := s.TrimStats(ctx, s.DB(), now, 2)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		got = append(got, n)
	}
	if len(got) != 3 || got[0] != 4 || got[1] != 3 || got[2] != 2 {
		t.Errorf("rows deleted a call: %v; want [4 3 2]", got)
	}
	for _, r := range rows {
		want := 0
		if r.keep {
			want = 1
		}
		if n := storetest.Count(t, s, "stats_pages", "level = ? AND bucket = ?", r.level, ms(r.bucket)); n != want {
			t.Errorf("level %d at %s: %d page rows; want %d", r.level, r.bucket, n, want)
		}
		if n := storetest.Count(t, s, "stats_events", "level = ? AND bucket = ?", r.level, ms(r.bucket)); n != 2*want {
			t.Errorf("level %d at %s: %d event rows; want %d", r.level, r.bucket, n, 2*want)
		}
	}
}

// TestTimeseriesPastHorizon: a pageviews or events series finer than the
// level that still holds its start is refused, naming the horizon; a
// coarser one, and the visit metrics, are answered.
func TestTimeseriesPastHorizon(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 34, 56, 0, time.UTC)
	s := storetest.New(t, store.WithClock(func() time.Time { return now }))
	ctx := context.Background()
	f := func(ago time.Duration) collector.StatsFilter {
		return collector.StatsFilter{Since: now.Add(-ago), Until: now.Add(-ago + 2*time.Hour), Bots: collector.BotsExclude}
	}
	for _, tc := range []struct {
		metric   string
		interval time.Duration
		ago      time.Duration
		refused  string // "" answered
	}{
		{"events", time.Minute, 47 * time.Hour, ""},
		{"events", time.Minute, 50 * time.Hour, "48h"},
		{"pageviews", time.Minute, 50 * time.Hour, "48h"},
		{"pageviews", time.Hour, 50 * time.Hour, ""},
		{"events", time.Hour, 399 * 24 * time.Hour, ""},
		{"events", time.Hour, 402 * 24 * time.Hour, "400d"},
		{"events", 24 * time.Hour, 402 * 24 * time.Hour, ""},
		{"visits", time.Minute, 402 * 24 * time.Hour, ""},
	} {
		_, err := s.Timeseries(ctx, f(tc.ago), tc.metric, "", tc.interval)
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s by %s from %s ago: %v", tc.metric, tc.interval, tc.ago, err)
		case tc.refused != "" && (collector.ErrorCode(err) != collector.EINVALID || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s by %s from %s ago: %v; want EINVALID naming %s", tc.metric, tc.interval, tc.ago, err, tc.refused)
		}
	}
}
