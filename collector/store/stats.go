package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// The stats API (docs/stats.md), fast by design: visit figures read the
// visits that started in the period through the visits_started index
// (one row a visit, never the events), and pageviews and events read the
// rollups stats_events and stats_pages that ingest keeps per minute, hour
// and day (the older parts of a period from the coarser levels only, see
// stats_horizon.go). Every statement is a single SELECT that D1 also runs.

var _ collector.StatsService = (*Store)(nil)

// botCond is the SQL condition of a bot filter on a table's bot column.
func botCond(bots, column string) string {
	switch bots {
	case collector.BotsInclude:
		return "1 = 1" // a boolean: PostgreSQL refuses "AND 1"
	case collector.BotsOnly:
		return column + " = 1"
	}
	return column + " = 0"
}

// Rollup levels, in milliseconds (store/ingest.go statsLevels).
const (
	levelMinute = int64(60_000)
	levelHour   = int64(3_600_000)
	levelDay    = int64(86_400_000)
)

// tile is a run of rollup buckets of one level: [from, to), both aligned
// to level.
type tile struct{ level, from, to int64 }

// tiles covers a period with the fewest rollup rows: whole days in the
// middle, whole hours beside them, minutes at the edges, using no level
// coarser than maxLevel. The period's edges are widened to whole minutes,
// and, where they lie before a level's reach (r: rows older may be
// trimmed, see stats_horizon.go), to whole hours or days, so that no tile
// reads a level where its rows may be gone. A caller that cannot use the
// coarser level (a minute or hour series) refuses such a period first.
func tiles(f collector.StatsFilter, maxLevel int64, r reach) []tile {
	from := floorTo(ms(f.Since), levelMinute)
	to := -floorTo(-ms(f.Until), levelMinute)
	if from < r.minute {
		from = floorTo(from, levelHour)
	}
	if from < r.hour {
		from = floorTo(from, levelDay)
	}
	if to < r.minute {
		to = -floorTo(-to, levelHour)
	}
	if to < r.hour {
		to = -floorTo(-to, levelDay)
	}
	levels := []int64{levelDay, levelHour, levelMinute}
	for levels[0] > maxLevel {
		levels = levels[1:]
	}
	return split(from, to, levels)
}

func split(from, to int64, levels []int64) []tile {
	if from >= to {
		return nil
	}
	l := levels[0]
	if len(levels) == 1 {
		return []tile{{l, from, to}}
	}
	a, b := -floorTo(-from, l), floorTo(to, l)
	if a >= b {
		return split(from, to, levels[1:])
	}
	out := split(from, a, levels[1:])
	out = append(out, tile{l, a, b})
	return append(out, split(b, to, levels[1:])...)
}

// floorTo rounds v down to a multiple of step, also for negative v.
func floorTo(v, step int64) int64 {
	if v < 0 {
		return -((-v + step - 1) / step) * step
	}
	return v / step * step
}

// tileCond is the SQL condition that selects the rows of ts, with its
// arguments.
func tileCond(ts []tile) (string, []any) {
	if len(ts) == 0 {
		return "0", nil
	}
	var b strings.Builder
	args := make([]any, 0, 3*len(ts))
	b.WriteString("(")
	for i, t := range ts {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("(level = ? AND bucket >= ? AND bucket < ?)")
		args = append(args, t.level, t.from, t.to)
	}
	b.WriteString(")")
	return b.String(), args
}

// Summary implements collector.StatsService.
func (s *Store) Summary(ctx context.Context, f collector.StatsFilter) (*collector.StatsSummary, error) {
	var out collector.StatsSummary
	since, until := ms(f.Since), ms(f.Until)
	var avg sql.NullFloat64
	var bounced, anon, rec, auth, verified sql.NullInt64
	// Sums of CASE, not of comparisons: PostgreSQL sums no booleans.
	err := s.db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT v.visitor_id),
		avg(max(v.last_seen_at - v.started_at, 0) / 1000.0),
		sum(CASE WHEN (SELECT count(*) FROM pages p WHERE p.visit_id = v.visit_id) <= 1 THEN 1 ELSE 0 END),
		sum(CASE v.reached WHEN 'anonymous' THEN 1 ELSE 0 END), sum(CASE v.reached WHEN 'recognized' THEN 1 ELSE 0 END),
		sum(CASE v.reached WHEN 'authenticated' THEN 1 ELSE 0 END), sum(v.was_verified)
		FROM visits v WHERE v.started_at >= ? AND v.started_at < ? AND `+botCond(f.Bots, "v.bot"),
		since, until).Scan(&out.Visits, &out.Visitors, &avg, &bounced, &anon, &rec, &auth, &verified)
	if err != nil {
		return nil, fmt.Errorf("stats summary: %w", err)
	}
	out.AvgVisitSeconds = avg.Float64
	if out.Visits > 0 {
		out.BounceRate = float64(bounced.Int64) / float64(out.Visits)
	}
	out.States = collector.StateCounts{Anonymous: anon.Int64, Recognized: rec.Int64, Authenticated: auth.Int64}
	out.Verified = verified.Int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM visits v
		WHERE v.started_at >= ? AND v.started_at < ? AND v.bot = 1`, since, until).Scan(&out.Bots); err != nil {
		return nil, fmt.Errorf("stats summary bots: %w", err)
	}
	cond, args := tileCond(tiles(f, levelDay, reachAt(s.now())))
	var events, pageviews sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT sum(n), sum(CASE WHEN name = 'PageEntered' THEN n ELSE 0 END)
		FROM stats_events WHERE `+cond+` AND `+botCond(f.Bots, "bot"), args...).Scan(&events, &pageviews); err != nil {
		return nil, fmt.Errorf("stats summary events: %w", err)
	}
	out.Events, out.Pageviews = events.Int64, pageviews.Int64
	return &out, nil
}

// Timeseries implements collector.StatsService.
// A state narrows the visit metrics to the visits that reached it
// (visits.reached, as the summary's states count them); the rollups of
// pageviews and events keep no state, so it is refused for them.
func (s *Store) Timeseries(ctx context.Context, f collector.StatsFilter, metric, state string, interval time.Duration) ([]collector.StatsPoint, error) {
	step := interval.Milliseconds()
	if step <= 0 {
		return nil, collector.Errorf(collector.EINVALID, "the interval must be positive")
	}
	if state != "" && !slices.Contains(collector.StatsStates(), state) {
		return nil, collector.Errorf(collector.EINVALID, "state must be anonymous, recognized or authenticated, not %q", state)
	}
	start := ms(f.Since) / step * step
	until := ms(f.Until)
	var query string
	var args []any
	switch metric {
	case "visits", "visitors":
		agg := "count(*)"
		if metric == "visitors" {
			agg = "count(DISTINCT v.visitor_id)"
		}
		reached := ""
		args = []any{step, step, ms(f.Since), until}
		if state != "" {
			reached = ` AND v.reached = ?`
			args = append(args, state)
		}
		query = `SELECT v.started_at / ? * ?, ` + agg + ` FROM visits v
			WHERE v.started_at >= ? AND v.started_at < ? AND ` + botCond(f.Bots, "v.bot") + reached + ` GROUP BY 1`
	case "pageviews", "events":
		if state != "" {
			return nil, collector.Errorf(collector.EINVALID, "state narrows only the visits and visitors series, not %s", metric)
		}
		if step%levelMinute != 0 {
			return nil, collector.Errorf(collector.EINVALID, "the interval must be whole minutes")
		}
		name := ""
		if metric == "pageviews" {
			name = ` AND name = 'PageEntered'`
		}
		// A minute series needs the minute rows from its start on, an
		// hour series the hour rows: past their horizon they are gone, and
		// a coarser level cannot give finer points.
		r := reachAt(s.now())
		if from := floorTo(ms(f.Since), levelMinute); (step < levelHour && from < r.minute) || (step < levelDay && from < r.hour) {
			return nil, horizonError(step, f.Since, r)
		}
		cond, targs := tileCond(tiles(f, step, r))
		query = `SELECT bucket / ? * ?, sum(n) FROM stats_events
			WHERE ` + cond + ` AND ` + botCond(f.Bots, "bot") + name + ` GROUP BY 1`
		args = append([]any{step, step}, targs...)
	default:
		return nil, collector.Errorf(collector.EINVALID, "unknown metric %q (want visits, visitors, pageviews or events)", metric)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("stats timeseries %s: %w", metric, err)
	}
	defer rows.Close()
	values := map[int64]int64{}
	for rows.Next() {
		var t, n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("stats timeseries %s: %w", metric, err)
		}
		values[t] += n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("stats timeseries %s: %w", metric, err)
	}
	points := make([]collector.StatsPoint, 0, (until-start+step-1)/step)
	for t := start; t < until; t += step {
		points = append(points, collector.StatsPoint{T: fromMS(t), Value: values[t]})
	}
	return points, nil
}

// breakdownColumns are the visit columns the breakdown groups by.
var breakdownColumns = map[string]string{
	"referrer": "v.referrer", "referrerType": "v.referrer_type", "utmSource": "v.utm_source",
	"utmMedium": "v.utm_medium", "utmCampaign": "v.utm_campaign", "browser": "v.browser",
	"os": "v.os", "deviceType": "v.device_type", "country": "v.country", "state": "v.reached",
}

// Breakdown implements collector.StatsService: count is pageviews for
// page (the URL without query or fragment) and for category (the
// engagement categories pages matched, docs/engagement.md), events for
// event, visits otherwise.
func (s *Store) Breakdown(ctx context.Context, f collector.StatsFilter, dimension string, limit int) ([]collector.StatsItem, error) {
	var query string
	var args []any
	switch col, ok := breakdownColumns[dimension]; {
	case ok:
		query = `SELECT ` + col + `, count(*) FROM visits v WHERE v.started_at >= ? AND v.started_at < ? AND ` +
			botCond(f.Bots, "v.bot") + ` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`
		args = []any{ms(f.Since), ms(f.Until), limit}
	case dimension == "page":
		cond, targs := tileCond(tiles(f, levelDay, reachAt(s.now())))
		query = `SELECT url, sum(n) FROM stats_pages WHERE ` + cond + ` AND ` + botCond(f.Bots, "bot") +
			` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`
		args = append(targs, limit)
	case dimension == "category":
		// A page keeps the categories it matched when it was stored: its
		// pageviews count once for each, in the visits started in the
		// period (the visits' index finds them, their pages' index the
		// rest).
		query = `SELECT c.value, count(*) FROM visits v JOIN pages p ON p.visit_id = v.visit_id, json_each(p.categories) c
			WHERE v.started_at >= ? AND v.started_at < ? AND p.categories IS NOT NULL AND ` + botCond(f.Bots, "v.bot") +
			` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`
		args = []any{ms(f.Since), ms(f.Until), limit}
	case dimension == "event":
		cond, targs := tileCond(tiles(f, levelDay, reachAt(s.now())))
		query = `SELECT name, sum(n) FROM stats_events WHERE ` + cond + ` AND ` + botCond(f.Bots, "bot") +
			` GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT ?`
		args = append(targs, limit)
	default:
		return nil, collector.Errorf(collector.EINVALID, "unknown dimension %q", dimension)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("stats breakdown %s: %w", dimension, err)
	}
	defer rows.Close()
	items := []collector.StatsItem{}
	for rows.Next() {
		var it collector.StatsItem
		if err := rows.Scan(&it.Value, &it.Count); err != nil {
			return nil, fmt.Errorf("stats breakdown %s: %w", dimension, err)
		}
		items = append(items, it)
	}
	return items, rows.Err()
}

// Live implements collector.StatsService. The visits_open index finds the
// visits with recent activity; connected visits are added by id.
func (s *Store) Live(ctx context.Context, active time.Time, connected []string, limit int) ([]collector.LiveVisit, error) {
	ids, _ := json.Marshal(slices.Compact(slices.Sorted(slices.Values(connected))))
	rows, err := s.db.QueryContext(ctx, `SELECT v.visit_id, v.visitor_id, v.state, v.verified, v.identity_id, i.user_id,
		coalesce((SELECT p.url FROM pages p WHERE p.visit_id = v.visit_id ORDER BY p.entered_at DESC LIMIT 1), v.landing_url),
		coalesce((SELECT p.title FROM pages p WHERE p.visit_id = v.visit_id ORDER BY p.entered_at DESC LIMIT 1), ''),
		max(v.last_seen_at, coalesce((SELECT max(e.corrected_at) FROM events e WHERE e.visit_key = v.visit_key), 0)) AS seen,
		v.browser, v.device_type, v.country
		FROM visits v LEFT JOIN identities i ON i.identity_id = v.identity_id
		WHERE v.ended_at IS NULL AND v.bot = 0
			AND (v.last_seen_at >= ? OR v.visit_id IN (SELECT value FROM json_each(?)))
		ORDER BY seen DESC, v.visit_id DESC LIMIT ?`, ms(active), string(ids), limit)
	if err != nil {
		return nil, fmt.Errorf("live visits: %w", err)
	}
	defer rows.Close()
	out := []collector.LiveVisit{}
	for rows.Next() {
		var (
			lv       collector.LiveVisit
			identity sql.NullString
			user     sql.NullString
			seen     int64
		)
		if err := rows.Scan(&lv.VisitID, &lv.VisitorID, &lv.State, &lv.Verified, &identity, &user,
			&lv.URL, &lv.Title, &seen, &lv.Browser, &lv.DeviceType, &lv.Country); err != nil {
			return nil, fmt.Errorf("live visits: %w", err)
		}
		lv.IdentityID, lv.UserID = nullString(identity), nullString(user)
		lv.LastSeenAt = fromMS(seen)
		out = append(out, lv)
	}
	return out, rows.Err()
}
