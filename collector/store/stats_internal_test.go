package store

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
)

func TestTiles(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	day := func(s string) int64 { return at(s).UnixMilli() }
	cases := []struct {
		since, until string
		max          int64
		want         []tile
	}{
		// Minutes at both edges, hours beside them, days in the middle.
		{"2026-11-01T22:58:30Z", "2026-11-04T01:02:00Z", levelDay, []tile{
			{levelMinute, day("2026-11-01T22:58:00Z"), day("2026-11-01T23:00:00Z")},
			{levelHour, day("2026-11-01T23:00:00Z"), day("2026-11-02T00:00:00Z")},
			{levelDay, day("2026-11-02T00:00:00Z"), day("2026-11-04T00:00:00Z")},
			{levelHour, day("2026-11-04T00:00:00Z"), day("2026-11-04T01:00:00Z")},
			{levelMinute, day("2026-11-04T01:00:00Z"), day("2026-11-04T01:02:00Z")},
		}},
		// An hourly time series may not use days.
		{"2026-11-01T00:00:00Z", "2026-11-03T00:00:00Z", levelHour, []tile{
			{levelHour, day("2026-11-01T00:00:00Z"), day("2026-11-03T00:00:00Z")},
		}},
		// Within one hour: minutes only, the end rounded up.
		{"2026-11-01T10:05:00Z", "2026-11-01T10:07:01Z", levelDay, []tile{
			{levelMinute, day("2026-11-01T10:05:00Z"), day("2026-11-01T10:08:00Z")},
		}},
	}
	for _, tc := range cases {
		got := tiles(collector.StatsFilter{Since: at(tc.since), Until: at(tc.until)}, tc.max, reach{})
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s..%s max %d:\n got %v\nwant %v", tc.since, tc.until, tc.max, got, tc.want)
		}
	}
}

// TestTilesPastReach: where a period's edges lie before the minute reach
// they widen to whole hours, before the hour reach to whole days; the
// part within the reach keeps its minutes.
func TestTilesPastReach(t *testing.T) {
	at := func(s string) int64 {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UnixMilli()
	}
	now, _ := time.Parse(time.RFC3339, "2026-12-01T12:34:56Z")
	r := reachAt(now)
	if r.minute != at("2026-11-29T12:00:00Z") || r.hour != at("2025-10-27T00:00:00Z") {
		t.Fatalf("reach at %s: minute %s, hour %s", now, fromMS(r.minute), fromMS(r.hour))
	}
	f := func(since, until string) collector.StatsFilter {
		a, _ := time.Parse(time.RFC3339, since)
		b, _ := time.Parse(time.RFC3339, until)
		return collector.StatsFilter{Since: a, Until: b}
	}
	cases := []struct {
		f    collector.StatsFilter
		want []tile
	}{
		// The console's last 7 days: the old edge by the hour, today's by
		// the minute.
		{f("2026-11-24T12:34:56Z", "2026-12-01T12:34:56Z"), []tile{
			{levelHour, at("2026-11-24T12:00:00Z"), at("2026-11-25T00:00:00Z")},
			{levelDay, at("2026-11-25T00:00:00Z"), at("2026-12-01T00:00:00Z")},
			{levelHour, at("2026-12-01T00:00:00Z"), at("2026-12-01T12:00:00Z")},
			{levelMinute, at("2026-12-01T12:00:00Z"), at("2026-12-01T12:35:00Z")},
		}},
		// Wholly before the minute reach: both edges widen to hours.
		{f("2026-11-20T10:05:00Z", "2026-11-20T10:07:01Z"), []tile{
			{levelHour, at("2026-11-20T10:00:00Z"), at("2026-11-20T11:00:00Z")},
		}},
		// Before the hour reach: whole days.
		{f("2025-01-10T10:05:00Z", "2025-01-12T10:07:01Z"), []tile{
			{levelDay, at("2025-01-10T00:00:00Z"), at("2025-01-13T00:00:00Z")},
		}},
	}
	for _, tc := range cases {
		if got := tiles(tc.f, levelDay, r); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s..%s:\n got %v\nwant %v", tc.f.Since, tc.f.Until, got, tc.want)
		}
	}
}

// TestTilesNeverPastReach: for random periods, levels and clocks, the
// tiles are contiguous, cover the period, and no tile reads a level
// before that level's reach.
func TestTilesNeverPastReach(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	year := int64(500 * 24 * time.Hour / time.Millisecond)
	checked := 0
	for range 20000 {
		now := base.Add(time.Duration(rng.Int64N(year)) * time.Millisecond)
		since := now.Add(-time.Duration(rng.Int64N(year)) * time.Millisecond)
		until := since.Add(time.Duration(1+rng.Int64N(year/10)) * time.Millisecond)
		maxLevel := []int64{levelMinute, levelHour, levelDay}[rng.IntN(3)]
		r := reachAt(now)
		from := floorTo(ms(since), levelMinute)
		if (maxLevel < levelHour && from < r.minute) || (maxLevel < levelDay && from < r.hour) {
			continue // refused by Timeseries
		}
		ts := tiles(collector.StatsFilter{Since: since, Until: until}, maxLevel, r)
		if len(ts) == 0 || ts[0].from > ms(since) || ts[len(ts)-1].to < ms(until) {
			t.Fatalf("now %s, %s..%s max %d: %v does not cover the period", now, since, until, maxLevel, ts)
		}
		for i, x := range ts {
			if i > 0 && ts[i-1].to != x.from || x.from >= x.to || x.level > maxLevel ||
				x.from%x.level != 0 || x.to%x.level != 0 ||
				(x.level == levelMinute && x.from < r.minute) || (x.level == levelHour && x.from < r.hour) {
				t.Fatalf("now %s, %s..%s max %d: tile %d %v of %v", now, since, until, maxLevel, i, x, ts)
			}
		}
		checked++
	}
	if checked < 5000 {
		t.Fatalf("only %d periods checked", checked)
	}
}
