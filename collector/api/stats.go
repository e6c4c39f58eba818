package api

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// The stats and live endpoints (docs/stats.md). statsRoutes is called by
// New when Config.Stats is set.

// maxPoints bounds a time series: a minute interval over a year would be
// half a million buckets.
const maxPoints = 10_000

// defaultStatsPeriod is the period of a stats call without since.
const defaultStatsPeriod = 30 * 24 * time.Hour

// liveWindow is how recent an event makes a visit live.
const liveWindow = 5 * time.Minute

var intervals = map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}

func (h *Handler) statsRoutes() {
	h.Handle("GET /v1/stats/summary", "", h.statsSummary)
	h.Handle("GET /v1/stats/timeseries", "", h.statsTimeseries)
	h.Handle("GET /v1/stats/breakdown", "", h.statsBreakdown)
	h.Handle("GET /v1/live", "", h.live)
}

// requireStats allows stats:read, and history:read (whose holders can
// count the same things from the history) and admin.
func requireStats(r *http.Request) error {
	if t := TokenFrom(r.Context()); t != nil && t.HasScope(collector.ScopeHistoryRead) {
		return nil
	}
	return RequireScope(r, collector.ScopeStatsRead)
}

// statsFilter reads since, until and bots. until defaults to now, since
// to 30 days before until; until must be after since.
func (h *Handler) statsFilter(r *http.Request, extra ...string) (collector.StatsFilter, url.Values, error) {
	var f collector.StatsFilter
	if err := requireStats(r); err != nil {
		return f, nil, err
	}
	q, err := query(r, append([]string{"since", "until", "bots"}, extra...)...)
	if err != nil {
		return f, nil, err
	}
	if f.Since, err = timeParam(q, "since"); err != nil {
		return f, nil, err
	}
	if f.Until, err = timeParam(q, "until"); err != nil {
		return f, nil, err
	}
	if f.Until.IsZero() {
		f.Until = h.now().UTC()
	}
	if f.Since.IsZero() {
		f.Since = f.Until.Add(-defaultStatsPeriod)
	}
	if !f.Until.After(f.Since) {
		return f, nil, collector.Errorf(collector.EINVALID, "until must be after since")
	}
	switch f.Bots = q.Get("bots"); f.Bots {
	case "":
		f.Bots = collector.BotsExclude
	case collector.BotsExclude, collector.BotsInclude, collector.BotsOnly:
	default:
		return f, nil, collector.Errorf(collector.EINVALID, "bots must be exclude, include or only, not %q", f.Bots)
	}
	return f, q, nil
}

// GET /v1/stats/summary?since=&until=&bots=
func (h *Handler) statsSummary(w http.ResponseWriter, r *http.Request) error {
	f, _, err := h.statsFilter(r)
	if err != nil {
		return err
	}
	s, err := h.cfg.Stats.Summary(r.Context(), f)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

// GET /v1/stats/timeseries?metric=&interval=&state=&since=&until=&bots=
// state (visits and visitors only) counts the visits that reached it: the
// console draws visits by state as three series. A pageviews or events
// series finer than the rollup level that still holds its start (minutes
// for 48 hours, hours for 400 days: store.MinuteHorizon, HourHorizon) is
// refused by the store with a 400 that names the horizon, rather than
// answered with the trimmed minutes as zeros.
func (h *Handler) statsTimeseries(w http.ResponseWriter, r *http.Request) error {
	f, q, err := h.statsFilter(r, "metric", "interval", "state")
	if err != nil {
		return err
	}
	metric := q.Get("metric")
	if metric == "" {
		metric = "visits"
	}
	name := q.Get("interval")
	if name == "" {
		name = "day"
	}
	step, ok := intervals[name]
	if !ok {
		return collector.Errorf(collector.EINVALID, "interval must be minute, hour or day, not %q", name)
	}
	start := f.Since.Truncate(step)
	if n := f.Until.Sub(start) / step; n >= maxPoints {
		return collector.Errorf(collector.EINVALID, "%d %s buckets is more than %d: shorten the period or widen the interval", n, name, maxPoints)
	}
	state := q.Get("state")
	points, err := h.cfg.Stats.Timeseries(r.Context(), f, metric, state, step)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Metric   string                 `json:"metric"`
		Interval string                 `json:"interval"`
		State    string                 `json:"state,omitempty"`
		Points   []collector.StatsPoint `json:"points"`
	}{metric, name, state, points})
}

// GET /v1/stats/breakdown?dimension=&limit=&since=&until=&bots=
func (h *Handler) statsBreakdown(w http.ResponseWriter, r *http.Request) error {
	f, q, err := h.statsFilter(r, "dimension", paramLimit)
	if err != nil {
		return err
	}
	dim := q.Get("dimension")
	if dim == "" {
		return collector.Errorf(collector.EINVALID, "dimension is required")
	}
	limit, err := intParam(q.Get(paramLimit), 10, 1000)
	if err != nil {
		return err
	}
	items, err := h.cfg.Stats.Breakdown(r.Context(), f, dim, limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Dimension string                `json:"dimension"`
		Items     []collector.StatsItem `json:"items"`
	}{dim, items})
}

// GET /v1/live?limit=: visits with an open connection or an event in the
// last five minutes. userId only for tokens that may read the history.
func (h *Handler) live(w http.ResponseWriter, r *http.Request) error {
	if err := requireStats(r); err != nil {
		return err
	}
	q, err := query(r, paramLimit)
	if err != nil {
		return err
	}
	limit, err := intParam(q.Get(paramLimit), 100, 1000)
	if err != nil {
		return err
	}
	var connected []string
	if h.cfg.Connections != nil {
		if connected, err = h.cfg.Connections.OpenVisits(r.Context()); err != nil {
			return fmt.Errorf("live visits: the open WebSockets: %w", err)
		}
	}
	visits, err := h.cfg.Stats.Live(r.Context(), h.now().Add(-liveWindow), connected, limit)
	if err != nil {
		return err
	}
	if !TokenFrom(r.Context()).HasScope(collector.ScopeHistoryRead) {
		for i := range visits {
			visits[i].UserID = nil
		}
	}
	return writeJSON(w, http.StatusOK, struct {
		Count  int                   `json:"count"`
		Visits []collector.LiveVisit `json:"visits"`
	}{len(visits), visits})
}

// intParam reads an optional positive integer of at most max.
func intParam(s string, def, max int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, collector.Errorf(collector.EINVALID, "limit must be 1 to %d, not %q", max, s)
	}
	return n, nil
}

func (h *Handler) now() time.Time {
	if h.cfg.Now != nil {
		return h.cfg.Now()
	}
	return time.Now()
}
