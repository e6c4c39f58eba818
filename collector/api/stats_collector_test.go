package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The stats over a seeded data set sent through a real collector, against
// hand-counted answers (docs/stats.md#stats).

const (
	uaChrome    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	uaFirefox   = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	uaIPhone    = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	uaGooglebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

type statsEnv struct {
	t      *testing.T
	c      *collectortest.Collector
	chrome string // visitorId of the Chrome visitor (A)
}

// send posts one batch as a browser with userAgent and returns the body
// it sent, so that it can be sent again.
func (e statsEnv) send(userAgent string, body map[string]any) protocol.CollectResponse {
	e.t.Helper()
	status, out := collectortest.Request(e.t, e.c.URL(), "", "POST", "/v1/collect", body, "User-Agent", userAgent)
	if status != http.StatusOK {
		e.t.Fatalf("collect: %d %s", status, out)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(out, &res); err != nil {
		e.t.Fatal(err)
	}
	if len(res.Ack.Rejected) > 0 {
		e.t.Fatalf("rejected: %+v", res.Ack.Rejected)
	}
	return res
}

func event(name, url string, data any) protocol.Event {
	e := collectortest.Event(name, collectortest.NewID(), data)
	e.URL = url
	return e
}

func (e statsEnv) get(token, path string, v any) {
	e.t.Helper()
	status, out := collectortest.Request(e.t, e.c.URL(), token, "GET", path, nil)
	if status != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, status, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		e.t.Fatalf("GET %s: %v", path, err)
	}
}

func seedStats(t *testing.T) statsEnv {
	// With a secret, B's SignIn below (no proof) is unverified.
	e := statsEnv{t: t, c: collectortest.Start(t, "--identity-secret", "stats-test-secret")}
	// A, Chrome: three pages and two business events.
	a := map[string]any{"events": []protocol.Event{
		event(protocol.EventVisitStarted, "https://shop.example/", nil),
		event(protocol.EventPageEntered, "https://shop.example/", nil),
		event(protocol.EventPageEntered, "https://shop.example/shoes", nil),
		event("AddToCart", "https://shop.example/shoes", map[string]any{"sku": "s1"}),
		event(protocol.EventPageEntered, "https://shop.example/cart", nil),
		event("AddToCart", "https://shop.example/cart", map[string]any{"sku": "s2"}),
	}}
	first := e.send(uaChrome, a)
	e.chrome = first.VisitorID
	a["visitorId"], a["visitId"], a["visitorKey"] = first.VisitorID, first.VisitID, first.VisitorKey
	e.send(uaChrome, a) // a resend: stored once, counted once
	// B, Firefox: one page, then a SignIn (no secret: unverified).
	b := e.send(uaFirefox, map[string]any{"events": []protocol.Event{
		event(protocol.EventVisitStarted, "https://shop.example/?utm_source=news&utm_medium=email", nil),
		event(protocol.EventPageEntered, "https://shop.example/?utm_source=news&utm_medium=email", nil),
	}})
	e.send(uaFirefox, map[string]any{"visitorId": b.VisitorID, "visitId": b.VisitID, "visitorKey": b.VisitorKey,
		"events": []protocol.Event{event(protocol.EventSignIn, "https://shop.example/", map[string]any{"userId": "bea@example.com"})}})
	// C, Safari on iPhone: one page.
	e.send(uaIPhone, map[string]any{"events": []protocol.Event{
		event(protocol.EventVisitStarted, "https://shop.example/shoes", nil),
		event(protocol.EventPageEntered, "https://shop.example/shoes", nil),
	}})
	// A crawler: two pages.
	e.send(uaGooglebot, map[string]any{"events": []protocol.Event{
		event(protocol.EventVisitStarted, "https://shop.example/", nil),
		event(protocol.EventPageEntered, "https://shop.example/", nil),
		event(protocol.EventPageEntered, "https://shop.example/shoes", nil),
	}})
	return e
}

func period() string {
	now := time.Now().UTC()
	return "since=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) +
		"&until=" + url.QueryEscape(now.Add(2*time.Minute).Format(time.RFC3339))
}

func TestStatsSummary(t *testing.T) {
	e := seedStats(t)
	p := period()
	for bots, want := range map[string]collector.StatsSummary{
		"exclude": {Visits: 3, Visitors: 3, Pageviews: 5, Events: 11, BounceRate: 2.0 / 3,
			States: collector.StateCounts{Anonymous: 2, Authenticated: 1}, Bots: 1},
		"include": {Visits: 4, Visitors: 4, Pageviews: 7, Events: 14, BounceRate: 2.0 / 4,
			States: collector.StateCounts{Anonymous: 3, Authenticated: 1}, Bots: 1},
		"only": {Visits: 1, Visitors: 1, Pageviews: 2, Events: 3, BounceRate: 0,
			States: collector.StateCounts{Anonymous: 1}, Bots: 1},
	} {
		var got collector.StatsSummary
		e.get(e.c.AdminToken, "/v1/stats/summary?"+p+"&bots="+bots, &got)
		got.AvgVisitSeconds = 0 // depends on the clock
		if got != want {
			t.Errorf("bots=%s:\n got %+v\nwant %+v", bots, got, want)
		}
	}

	// Erasing A takes its visit, three pages and six events out of the
	// stats, and its page URLs out of the page rollup.
	if status, body := e.c.Do("DELETE", "/v1/visitors/"+e.chrome, nil); status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", status, body)
	}
	var got collector.StatsSummary
	e.get(e.c.AdminToken, "/v1/stats/summary?"+p, &got)
	if got.Visits != 2 || got.Pageviews != 2 || got.Events != 5 {
		t.Errorf("after erasure: %+v, want 2 visits, 2 pageviews, 5 events", got)
	}
	var pages struct{ Items []collector.StatsItem }
	e.get(e.c.AdminToken, "/v1/stats/breakdown?dimension=page&"+p, &pages)
	for _, it := range pages.Items {
		if strings.HasSuffix(it.Value, "/cart") {
			t.Errorf("an erased visitor's page is still counted: %+v", it)
		}
	}
}

func TestStatsBreakdownAndTimeseries(t *testing.T) {
	e := seedStats(t)
	p := period()
	type breakdown struct {
		Dimension string                `json:"dimension"`
		Items     []collector.StatsItem `json:"items"`
	}
	for query, want := range map[string]string{
		"dimension=browser":              "Chrome=1 Firefox=1 Safari=1",
		"dimension=deviceType":           "desktop=2 mobile=1",
		"dimension=deviceType&bots=only": "bot=1",
		"dimension=event":                "PageEntered=5 VisitStarted=3 AddToCart=2 SignIn=1",
		"dimension=page&limit=2":         "https://shop.example/=2 https://shop.example/shoes=2",
		"dimension=state":                "anonymous=2 authenticated=1",
		"dimension=utmSource":            "=2 news=1",
		"dimension=referrerType":         "direct=2 email=1",
	} {
		var got breakdown
		e.get(e.c.AdminToken, "/v1/stats/breakdown?"+p+"&"+query, &got)
		var parts []string
		for _, it := range got.Items {
			parts = append(parts, fmt.Sprintf("%s=%d", it.Value, it.Count))
		}
		if strings.Join(parts, " ") != want {
			t.Errorf("%s: %v, want %v", query, got.Items, want)
		}
	}

	for metric, total := range map[string]int64{"visits": 3, "visitors": 3, "pageviews": 5, "events": 11} {
		var ts struct {
			Metric, Interval string
			Points           []collector.StatsPoint
		}
		e.get(e.c.AdminToken, "/v1/stats/timeseries?"+p+"&metric="+metric+"&interval=minute", &ts)
		var sum int64
		for i, pt := range ts.Points {
			sum += pt.Value
			if i > 0 && pt.T.Sub(ts.Points[i-1].T) != time.Minute {
				t.Fatalf("%s: points %v and %v are not a minute apart", metric, ts.Points[i-1].T, pt.T)
			}
		}
		if ts.Metric != metric || ts.Interval != "minute" || len(ts.Points) < 60 || sum != total {
			t.Errorf("%s: %s/%s, %d points summing to %d, want >= 60 points summing to %d",
				metric, ts.Metric, ts.Interval, len(ts.Points), sum, total)
		}
	}
}

func TestStatsRefusals(t *testing.T) {
	e := statsEnv{t: t, c: collectortest.Start(t)}
	s, closeDB, err := daemon.OpenStore(e.c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	token := func(scopes ...string) string {
		_, secret, err := s.CreateToken(t.Context(), scopes)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	stats, history, other := token(collector.ScopeStatsRead), token(collector.ScopeHistoryRead), token(collector.ScopeVisitorDataRead)
	for _, tok := range []string{stats, history, e.c.AdminToken} {
		if status, body := collectortest.Request(t, e.c.URL(), tok, "GET", "/v1/stats/summary", nil); status != http.StatusOK {
			t.Errorf("allowed token: %d %s", status, body)
		}
	}
	if status, _ := collectortest.Request(t, e.c.URL(), other, "GET", "/v1/stats/summary", nil); status != http.StatusForbidden {
		t.Errorf("visitordata:read token: %d, want 403", status)
	}
	if status, _ := collectortest.Request(t, e.c.URL(), "", "GET", "/v1/live", nil); status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", status)
	}
	for _, path := range []string{
		"/v1/stats/summary?since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z",
		"/v1/stats/summary?bots=maybe",
		"/v1/stats/summary?since=yesterday",
		"/v1/stats/timeseries?metric=revenue",
		"/v1/stats/timeseries?interval=week",
		"/v1/stats/timeseries?interval=minute&since=2025-01-01T00:00:00Z&until=2026-01-01T00:00:00Z",
		"/v1/stats/breakdown",
		"/v1/stats/breakdown?dimension=shoeSize",
		"/v1/stats/breakdown?dimension=page&limit=0",
		"/v1/stats/breakdown?dimension=page&limit=1001",
		"/v1/live?limit=x",
		"/v1/stats/summary?sinse=2026-11-01T00:00:00Z",
	} {
		status, body := collectortest.Request(t, e.c.URL(), stats, "GET", path, nil)
		var p struct{ Code, Detail string }
		json.Unmarshal(body, &p)
		if status != http.StatusBadRequest || p.Code != collector.EINVALID || p.Detail == "" {
			t.Errorf("%s: %d %s, want 400 %s with a detail", path, status, body, collector.EINVALID)
		}
	}
}

func TestLive(t *testing.T) {
	e := seedStats(t)
	s, closeDB, err := daemon.OpenStore(e.c.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	_, statsOnly, err := s.CreateToken(t.Context(), []string{collector.ScopeStatsRead})
	if err != nil {
		t.Fatal(err)
	}
	type live struct {
		Count  int                   `json:"count"`
		Visits []collector.LiveVisit `json:"visits"`
	}
	var got live
	e.get(e.c.AdminToken, "/v1/live", &got)
	if got.Count != 3 || len(got.Visits) != 3 {
		t.Fatalf("live: %d visits %+v, want the 3 human ones", got.Count, got.Visits)
	}
	var signedIn *collector.LiveVisit
	for i, v := range got.Visits {
		if i > 0 && v.LastSeenAt.After(got.Visits[i-1].LastSeenAt) {
			t.Errorf("not newest first: %v after %v", v.LastSeenAt, got.Visits[i-1].LastSeenAt)
		}
		if v.State == protocol.StateAuthenticated {
			signedIn = &got.Visits[i]
		}
	}
	if signedIn == nil || signedIn.UserID == nil || *signedIn.UserID != "bea@example.com" || signedIn.Browser != "Firefox" {
		t.Fatalf("signed-in visit: %+v", signedIn)
	}
	got = live{}
	e.get(statsOnly, "/v1/live", &got)
	for _, v := range got.Visits {
		if v.UserID != nil {
			t.Errorf("a stats:read token saw userId %q", *v.UserID)
		}
	}
	if got.Count != 3 {
		t.Errorf("stats:read token: %d live visits", got.Count)
	}
}

// TestStatsTimeseriesByState: state narrows the visit series to the visits
// that reached it, so that the three series add up to all visits and each
// agrees with the summary's states (the console's chart of visits by state).
func TestStatsTimeseriesByState(t *testing.T) {
	e := seedStats(t)
	// D, Chrome again: a bare claim of a user id makes a visit recognized.
	e.send(uaChrome, map[string]any{"events": []protocol.Event{
		event(protocol.EventVisitStarted, "https://shop.example/cart", nil),
		event(protocol.EventPageEntered, "https://shop.example/cart", nil),
		event(protocol.EventUserInfo, "https://shop.example/cart", map[string]any{"userId": "dan@example.com"}),
	}})

	p := period()
	series := func(metric, state string) (sum int64) {
		var ts struct {
			Metric, Interval, State string
			Points                  []collector.StatsPoint
		}
		e.get(e.c.AdminToken, "/v1/stats/timeseries?"+p+"&metric="+metric+"&interval=hour&state="+state, &ts)
		if ts.State != state || len(ts.Points) < 2 {
			t.Errorf("%s state=%s: answered state %q with %d points", metric, state, ts.State, len(ts.Points))
		}
		for _, pt := range ts.Points {
			sum += pt.Value
		}
		return sum
	}
	var summary collector.StatsSummary
	e.get(e.c.AdminToken, "/v1/stats/summary?"+p, &summary)
	want := map[string]int64{"anonymous": 2, "recognized": 1, "authenticated": 1}
	fromSummary := map[string]int64{"anonymous": summary.States.Anonymous,
		"recognized": summary.States.Recognized, "authenticated": summary.States.Authenticated}
	var total int64
	for state, n := range want {
		got := series("visits", state)
		if got != n || fromSummary[state] != n {
			t.Errorf("visits state=%s: series %d, summary %d, want %d", state, got, fromSummary[state], n)
		}
		total += got
	}
	if all := series("visits", ""); all != total || all != 4 {
		t.Errorf("visits: %d in all, %d by state, want 4", all, total)
	}
	if v := series("visitors", "recognized"); v != 1 {
		t.Errorf("recognized visitors: %d, want 1", v)
	}

	for _, path := range []string{
		"/v1/stats/timeseries?state=known",
		"/v1/stats/timeseries?metric=pageviews&state=anonymous",
		"/v1/stats/timeseries?metric=events&state=recognized",
	} {
		status, body := collectortest.Request(t, e.c.URL(), e.c.AdminToken, "GET", path, nil)
		var pr struct{ Code, Detail string }
		json.Unmarshal(body, &pr)
		if status != http.StatusBadRequest || pr.Code != collector.EINVALID || pr.Detail == "" {
			t.Errorf("%s: %d %s, want 400 %s with a detail", path, status, body, collector.EINVALID)
		}
	}
}
