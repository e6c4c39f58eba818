package collector

import (
	"context"
	"time"
)

// ScopeStatsRead reads the stats and live endpoints (docs/stats.md);
// history:read and admin also allow them.
const ScopeStatsRead = "stats:read"

// Bot filters of the stats: bots are stored and flagged, and left out of
// the stats unless asked.
const (
	BotsExclude = "exclude"
	BotsInclude = "include"
	BotsOnly    = "only"
)

// StatsFilter is the period and the bot filter of a stats call. Visits
// count in the period they started in; pageviews and events in the minute
// they happened in (so a period's edges are rounded down to whole minutes
// for them).
type StatsFilter struct {
	Since, Until time.Time // Until exclusive
	Bots         string
}

// StatsSummary answers GET /v1/stats/summary.
type StatsSummary struct {
	Visits          int64       `json:"visits"`
	Visitors        int64       `json:"visitors"`
	Pageviews       int64       `json:"pageviews"`
	Events          int64       `json:"events"`
	BounceRate      float64     `json:"bounceRate"` // share of visits with at most one page
	AvgVisitSeconds float64     `json:"avgVisitSeconds"`
	States          StateCounts `json:"states"`   // visits by the most identified state they reached
	Verified        int64       `json:"verified"` // visits that were verified
	Bots            int64       `json:"bots"`     // bot visits in the period, whatever the filter
}

// StateCounts counts visits by state.
type StateCounts struct {
	Anonymous     int64 `json:"anonymous"`
	Recognized    int64 `json:"recognized"`
	Authenticated int64 `json:"authenticated"`
}

// StatsPoint is one bucket of a time series.
type StatsPoint struct {
	T     time.Time `json:"t"`
	Value int64     `json:"value"`
}

// StatsItem is one row of a breakdown.
type StatsItem struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}

// LiveVisit is a visit going on now.
type LiveVisit struct {
	VisitID    string    `json:"visitId"`
	VisitorID  string    `json:"visitorId"`
	State      string    `json:"state"`
	Verified   bool      `json:"verified"`
	IdentityID *string   `json:"identityId"`
	UserID     *string   `json:"userId,omitempty"` // only for tokens that may read history
	URL        string    `json:"url"`
	Title      string    `json:"title"`
	LastSeenAt time.Time `json:"lastSeenAt"`
	Browser    string    `json:"browser"`
	DeviceType string    `json:"deviceType"`
	Country    string    `json:"country"`
}

// StatsMetrics returns the metrics of the time series; each call a fresh
// slice, so that no caller can change what the next one sees.
func StatsMetrics() []string { return []string{"visits", "visitors", "pageviews", "events"} }

// StatsStates returns the states a visit time series can be narrowed to.
func StatsStates() []string { return []string{"anonymous", "recognized", "authenticated"} }

// StatsDimensions returns the dimensions of the breakdown.
func StatsDimensions() []string {
	return []string{"page", "referrer", "referrerType", "utmSource", "utmMedium", "utmCampaign",
		"browser", "os", "deviceType", "country", "event", "state", "category"}
}

// StatsService answers the stats API. Methods return EINVALID for an
// unknown metric or dimension.
type StatsService interface {
	Summary(ctx context.Context, f StatsFilter) (*StatsSummary, error)
	// Timeseries returns every bucket of interval from the one holding
	// f.Since to the one before f.Until, empty ones as 0. A state, for the
	// visit metrics only, counts just the visits that reached it (one
	// series a state, for a chart of visits by state); "" counts all.
	Timeseries(ctx context.Context, f StatsFilter, metric, state string, interval time.Duration) ([]StatsPoint, error)
	// Breakdown returns the limit largest values of dimension.
	Breakdown(ctx context.Context, f StatsFilter, dimension string, limit int) ([]StatsItem, error)
	// Live returns the visits with an event since active, and the open
	// visits among connected, newest first, at most limit.
	Live(ctx context.Context, active time.Time, connected []string, limit int) ([]LiveVisit, error)
}
