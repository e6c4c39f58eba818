package store

import (
	"fmt"
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
		got := tiles(collector.StatsFilter{Since: at(tc.since), Until: at(tc.until)}, tc.max)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s..%s max %d:\n got %v\nwant %v", tc.since, tc.until, tc.max, got, tc.want)
		}
	}
}
