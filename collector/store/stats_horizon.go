package store

import (
	"context"
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// The stats rollups would grow without bound if every level were kept as
// long as its events: a minute row per minute, event name (or page URL)
// and bot flag is up to 60 times the hour level's rows, and on a site with
// many URLs nearly one row per page view. So each fine level has a
// horizon, after which TrimStats deletes its rows (collector/maintain runs
// it in the background; the edge's Cron Trigger sweep on D1), and the
// reads here answer a period's older parts from the next coarser level.
//
//   - Minute rows live MinuteHorizon (48 hours). Nothing in the console
//     draws minutes: its shortest view is the last 24 hours by hour, whose
//     edges are minute-exact and stay so; 48 hours keeps that with a day to
//     spare, and lets an API client draw yesterday and today by minute.
//   - Hour rows live HourHorizon (400 days): an hour series holds at most
//     10,000 points (417 days), and 400 days keeps a year-on-year view of
//     any week by hour. Beyond it a period's edges are whole days.
//   - Day rows stay as long as their events (retention and erasure take
//     them with the events): at most one row a day per name or URL.
//
// Both horizons are constants, not settings: bounded by default, and the
// reads and the deleting agree on them without configuration.
const (
	MinuteHorizon = 48 * time.Hour
	HourHorizon   = 400 * 24 * time.Hour
)

// MaxTrimBatch bounds the rows one TrimStats statement deletes, so that a
// step is short: the native collector runs it in the ingest writer's
// transaction, between commits of events.
const MaxTrimBatch = 5000

// reach is the oldest bucket (Unix ms) that the minute and the hour level
// still hold in full at a moment: the horizons, rounded down to whole
// buckets of the next coarser level, so that a period's older part tiles
// with coarser rows exactly. Anything older may be trimmed.
type reach struct{ minute, hour int64 }

func reachAt(now time.Time) reach {
	return reach{
		minute: floorTo(ms(now)-MinuteHorizon.Milliseconds(), levelHour),
		hour:   floorTo(ms(now)-HourHorizon.Milliseconds(), levelDay),
	}
}

// StatsReach returns the oldest bucket starts that the minute and hour
// rollups hold in full at now: reads use minutes from the first on and
// hours from the second on, and TrimStats deletes the rows before them.
func StatsReach(now time.Time) (minute, hour time.Time) {
	r := reachAt(now)
	return fromMS(r.minute), fromMS(r.hour)
}

// TrimStats deletes up to limit rows of each rollup table (at most
// MaxTrimBatch) that are older than their level's horizon at now: minute
// rows before the minute reach, hour rows before the hour reach. It
// returns how many rows it deleted. Each table is one statement, which D1
// runs as it is; a row it deletes counted only events whose hour and day
// rows stay, so totals do not change.
func (s *Store) TrimStats(ctx context.Context, q Querier, now time.Time, limit int) (int, error) {
	limit = min(max(limit, 1), MaxTrimBatch)
	r := reachAt(now)
	total := 0
	for _, t := range []struct{ table, key string }{{"stats_events", "name"}, {"stats_pages", "url"}} {
		// The primary key (level, bucket, …) finds both ranges; a row
		// value names each row of this WITHOUT ROWID table.
		res, err := q.ExecContext(ctx, `DELETE FROM `+t.table+` WHERE (level, bucket, `+t.key+`, bot) IN (
			SELECT level, bucket, `+t.key+`, bot FROM `+t.table+`
			WHERE (level = ? AND bucket < ?) OR (level = ? AND bucket < ?) LIMIT ?)`,
			levelMinute, r.minute, levelHour, r.hour, limit)
		if err != nil {
			return total, fmt.Errorf("trim %s: %w", t.table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("trim %s: %w", t.table, err)
		}
		total += int(n)
	}
	return total, nil
}

// horizonError is the problem of a series finer than its level still
// holds: a minute series that starts before the minute reach, an hour
// series before the hour reach.
func horizonError(step int64, since time.Time, r reach) error {
	name, horizon, from := "minute", MinuteHorizon, fromMS(r.minute)
	if step >= levelHour {
		name, horizon, from = "hour", HourHorizon, fromMS(r.hour)
	}
	return collector.Errorf(collector.EINVALID,
		"pageviews and events are kept per %s for %s (the %s rollup's horizon): since %s is before %s; use a coarser interval or a later since",
		name, horizonText(horizon), name, since.UTC().Format(time.RFC3339), from.Format(time.RFC3339))
}

// horizonText writes a horizon as people read it: 48h, 400d.
func horizonText(d time.Duration) string {
	if d%(24*time.Hour) == 0 && d >= 7*24*time.Hour {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	return fmt.Sprintf("%dh", d/time.Hour)
}
