package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// The rollups the stats read: event counts per bucket, counted in the
// same transaction as the events.

// statsLevels are the bucket lengths of the stats rollups: a minute, an
// hour and a day, in milliseconds.
const statsLevels = `(SELECT 60000 AS size UNION ALL SELECT 3600000 UNION ALL SELECT 86400000)`

// StatsLevels returns the same lengths for callers that count in Go (an
// array: a copy, and no allocation).
func StatsLevels() [3]int64 { return [...]int64{60_000, 3_600_000, 86_400_000} }

// pageURL is the SQL for an event's URL without its query and fragment,
// the page of the page breakdown (PageURL in Go).
const pageURL = `CASE WHEN instr(e.url, '?') > 0 THEN substr(e.url, 1, instr(e.url, '?') - 1)
	WHEN instr(e.url, '#') > 0 THEN substr(e.url, 1, instr(e.url, '#') - 1) ELSE e.url END`

// PageURL is url without its query and fragment.
func PageURL(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i]
	}
	if i := strings.IndexByte(url, '#'); i >= 0 {
		return url[:i]
	}
	return url
}

// CountEvents adds the events with a rowid in (after, upTo] (upTo 0: no
// bound) to the rollups that the stats read, with their visit's bot flag,
// and to their visits' event counts (rollup rows in their key's order, as
// AddStats adds them where nodes share the database, so that two nodes
// never deadlock on them). Run in the transaction that inserted
// them, it counts each stored event once: a resend inserts no row. Ingest
// counts in Go what it can (see AddStats) and calls this for the rest.
//
// only, when not nil, narrows the range to those event ids: on D1, without
// transactions, the rows of requests running at the same moment fall in
// the range too, and each request would count them again (a test saw 78
// events counted for 37 stored). A request counts only the ids it sent;
// the rowid bound still leaves out those a resend did not insert.
func (s *Store) CountEvents(ctx context.Context, q Querier, after, upTo int64, only []string) error {
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	args := []any{after, upTo}
	cond := `e.rowid > ? AND e.rowid <= ?`
	if _, inTx := q.(*sql.Tx); inTx && s.dialect.OwnEvents != "" {
		cond += ` AND ` + s.dialect.OwnEvents
	}
	if only != nil {
		ids, err := json.Marshal(only)
		if err != nil {
			return fmt.Errorf("count events: %w", err)
		}
		cond += ` AND e.event_id IN (SELECT value FROM json_each(?))`
		args = append(args, string(ids))
	}
	if _, err := s.execHot(ctx, q, `INSERT INTO stats_events (level, bucket, name, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, e.name, coalesce(v.bot, 0), count(*)
		FROM events e LEFT JOIN visits v ON v.visit_key = e.visit_key, `+statsLevels+` l
		WHERE `+cond+` GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (level, bucket, name, bot) DO UPDATE SET n = stats_events.n + excluded.n`, args...); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	if _, err := s.execHot(ctx, q, `INSERT INTO stats_pages (level, bucket, url, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, `+pageURL+`, coalesce(v.bot, 0), count(*)
		FROM events e LEFT JOIN visits v ON v.visit_key = e.visit_key, `+statsLevels+` l
		WHERE `+cond+` AND e.name = 'PageEntered' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (level, bucket, url, bot) DO UPDATE SET n = stats_pages.n + excluded.n`, args...); err != nil {
		return fmt.Errorf("count page views: %w", err)
	}
	if _, err := s.execHot(ctx, q, `UPDATE visits SET event_count = event_count + c.n
		FROM (SELECT e.visit_key, count(*) AS n FROM events e WHERE `+cond+` GROUP BY e.visit_key) AS c
		WHERE visits.visit_key = c.visit_key`, args...); err != nil {
		return fmt.Errorf("count the events of visits: %w", err)
	}
	return nil
}

// StatKey is one rollup row: the bucket (its start in Unix ms) of a level,
// an event name (stats_events) or a page URL (stats_pages), and the bot
// flag.
type StatKey struct {
	Level, Bucket int64
	Key           string
	Bot           bool
}

// statsChunk bounds the rows of one rollup statement, so that a handful
// of statement shapes are prepared once.
const statsChunk = 16

// AddStats adds counts to stats_events, or to stats_pages when pages.
func (s *Store) AddStats(ctx context.Context, q Querier, pages bool, counts map[StatKey]int64) error {
	table, col := "stats_events", "name"
	if pages {
		table, col = "stats_pages", "url"
	}
	args := make([]any, 0, 5*statsChunk)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		query := `INSERT INTO ` + table + ` (level, bucket, ` + col + `, bot, n) VALUES (?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1) +
			` ON CONFLICT (level, bucket, ` + col + `, bot) DO UPDATE SET n = ` + table + `.n + excluded.n`
		if _, err := s.execHot(ctx, q, query, args...); err != nil {
			return fmt.Errorf("add to %s: %w", table, err)
		}
		args, n = args[:0], 0
		return nil
	}
	add := func(k StatKey, c int64) error {
		args = append(args, k.Level, k.Bucket, k.Key, boolInt(k.Bot), c)
		if n++; n == statsChunk {
			return flush()
		}
		return nil
	}
	if s.dialect.Shared {
		// Other nodes add to the same rows at the same moment: rows
		// updated in one order by all never deadlock.
		for _, k := range slices.SortedFunc(maps.Keys(counts), compareStatKeys) {
			if err := add(k, counts[k]); err != nil {
				return err
			}
		}
		return flush()
	}
	for k, c := range counts {
		if err := add(k, c); err != nil {
			return err
		}
	}
	return flush()
}
