package api_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestStatsPastMinuteHorizon: a real collector, started without
// --retention, deletes by itself the minute rollup rows older than the
// minute horizon (48 h) and keeps the newer ones and the hour and day
// rows; the stats then answer a period reaching past the horizon from the
// hour rows (every hour the period touches, in full), equal to hand
// counts, and refuse a minute series there with a problem naming the
// horizon.
func TestStatsPastMinuteHorizon(t *testing.T) {
	dir := t.TempDir()
	// A visit timeout longer than three days: no VisitEnded of the old
	// visit, whose events are three days old, joins the counts.
	col := collectortest.StartIn(t, dir, "--visit-timeout", "100h")
	now := time.Now().UTC()
	// Three days ago, in one hour H: two page views and a click.
	h := now.Add(-72 * time.Hour).Truncate(time.Hour)
	at := func(e protocol.Event, t time.Time) protocol.Event {
		e.Timestamp = t.Format("2006-01-02T15:04:05.000Z07:00")
		return e
	}
	e := statsEnv{t: t, c: col}
	e.send(uaChrome, map[string]any{"events": []protocol.Event{
		at(event(protocol.EventVisitStarted, "https://shop.example/", nil), h.Add(10*time.Minute)),
		at(event(protocol.EventPageEntered, "https://shop.example/", nil), h.Add(10*time.Minute)),
		at(event("AddToCart", "https://shop.example/", nil), h.Add(20*time.Minute)),
		at(event(protocol.EventPageEntered, "https://shop.example/cart", nil), h.Add(40*time.Minute)),
	}})
	// Now: one page view.
	e.send(uaChrome, map[string]any{"events": []protocol.Event{
		at(event(protocol.EventVisitStarted, "https://shop.example/shoes", nil), now),
		at(event(protocol.EventPageEntered, "https://shop.example/shoes", nil), now),
	}})
	col.Stop()

	// The trimmer steps once at start, then every minute: a restart
	// trims what the first run wrote.
	col = collectortest.StartIn(t, dir, "--visit-timeout", "100h")
	e.c = col
	db, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	minuteReach, _ := store.StatsReach(time.Now())
	count := func(where string, args ...any) int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT (SELECT count(*) FROM stats_events WHERE `+where+`) + (SELECT count(*) FROM stats_pages WHERE `+where+`)`,
			append(args, args...)...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deadline := time.Now().Add(30 * time.Second)
	for count("level = 60000 AND bucket < ?", minuteReach.UnixMilli()) > 0 {
		if time.Now().After(deadline) {
			t.Fatal("the minute rows of three days ago are still there after 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Kept: today's minute rows (VisitStarted, PageEntered; the page),
	// and the hour and day rows of H (VisitStarted, PageEntered,
	// AddToCart; two pages) and of today.
	if n := count("level = 60000 AND bucket >= ?", minuteReach.UnixMilli()); n != 3 {
		t.Errorf("%d minute rows within the horizon; want 3", n)
	}
	if n := count("level = 3600000 AND bucket = ?", h.UnixMilli()); n != 5 {
		t.Errorf("%d hour rows of three days ago; want 5", n)
	}
	if n := count("level = 86400000 AND bucket = ?", h.Truncate(24*time.Hour).UnixMilli()); n != 5 {
		t.Errorf("%d day rows of three days ago; want 5", n)
	}

	q := func(since, until time.Time) string {
		return "since=" + url.QueryEscape(since.Format(time.RFC3339)) + "&until=" + url.QueryEscape(until.Format(time.RFC3339))
	}
	// From H+30m: the hour H counts in full (3 page views and events of
	// H's 4, the VisitStarted too), then today's 2 events.
	var sum collector.StatsSummary
	e.get(col.AdminToken, "/v1/stats/summary?"+q(h.Add(30*time.Minute), now.Add(time.Minute)), &sum)
	if sum.Events != 6 || sum.Pageviews != 3 {
		t.Errorf("summary from H+30m: %d events, %d page views; want 6 and 3", sum.Events, sum.Pageviews)
	}
	var series struct{ Points []collector.StatsPoint }
	e.get(col.AdminToken, "/v1/stats/timeseries?metric=pageviews&interval=hour&"+q(h.Add(-time.Hour), h.Add(2*time.Hour)), &series)
	want := []collector.StatsPoint{{T: h.Add(-time.Hour)}, {T: h, Value: 2}, {T: h.Add(time.Hour)}}
	if len(series.Points) != 3 || series.Points[0] != want[0] || series.Points[1] != want[1] || series.Points[2] != want[2] {
		t.Errorf("hourly page views around H: %v; want %v", series.Points, want)
	}
	var pages struct{ Items []collector.StatsItem }
	e.get(col.AdminToken, "/v1/stats/breakdown?dimension=page&"+q(h.Add(35*time.Minute), h.Add(50*time.Minute)), &pages)
	if len(pages.Items) != 2 || pages.Items[0] != (collector.StatsItem{Value: "https://shop.example/", Count: 1}) ||
		pages.Items[1] != (collector.StatsItem{Value: "https://shop.example/cart", Count: 1}) {
		t.Errorf("pages of H+35m to H+50m: %v; want / and /cart once each (the hour H)", pages.Items)
	}

	// A minute series past the horizon: 400, naming it.
	status, body := collectortest.Request(t, col.URL(), col.AdminToken, "GET",
		"/v1/stats/timeseries?metric=events&interval=minute&"+q(h, h.Add(time.Hour)), nil)
	var problem struct{ Code, Detail string }
	json.Unmarshal(body, &problem)
	if status != http.StatusBadRequest || problem.Code != "invalid" || !strings.Contains(problem.Detail, "48h") {
		t.Errorf("a minute series three days ago: %d %s; want 400 invalid naming the 48h horizon", status, body)
	}
	// Within the horizon a minute series is answered, to the minute.
	e.get(col.AdminToken, "/v1/stats/timeseries?metric=pageviews&interval=minute&"+q(now.Add(-2*time.Minute), now.Add(2*time.Minute)), &series)
	total := int64(0)
	for _, p := range series.Points {
		total += p.Value
	}
	if len(series.Points) != 4 && len(series.Points) != 5 || total != 1 {
		t.Errorf("page views by minute around now: %v; want 1 in 4 or 5 points", series.Points)
	}
}
