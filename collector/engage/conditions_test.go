package engage_test

import (
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// nextOffer reads frames until an offer comes and returns it with the
// time it came.
func nextOffer(t *testing.T, c *collectortest.Client) (protocol.Notification, time.Time) {
	t.Helper()
	_, offers := frames(t, c)
	return offers[0], time.Now()
}

// A dwell on the page fires from a timer once the page lasted atLeast,
// with no further event; entering another page starts it over.
func TestDwellOnPage(t *testing.T) {
	col := collectortest.Start(t)
	rule := addRule(t, col, `{"name": "dwell", "when": [{"dwell": {"on": "page", "atLeast": "2s"}}],
	 "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`)
	c := visitOn(t, col)
	if _, offers := frames(t, c, productPage("1")); len(offers) > 0 {
		t.Fatalf("an offer before the dwell: %+v", offers)
	}
	time.Sleep(1200 * time.Millisecond)
	if _, offers := frames(t, c, productPage("2")); len(offers) > 0 {
		t.Fatalf("an offer before the dwell: %+v", offers)
	}
	second := time.Now()
	o, at := nextOffer(t, c)
	if o.RuleID != rule {
		t.Fatalf("offer %+v", o)
	}
	// The first page's timer (due 0.8s after the second page) was
	// cancelled: the offer is 2s after the second page.
	if d := at.Sub(second); d < 1800*time.Millisecond {
		t.Fatalf("offer %v after the second page: the first page's dwell was not cancelled", d)
	}
	if n := offered(col, rule); n != 1 {
		t.Fatalf("%d offers", n)
	}
}

// A dwell on the visit counts from the visit's start, across pages.
func TestDwellOnVisit(t *testing.T) {
	col := collectortest.Start(t)
	rule := addRule(t, col, `{"name": "dwell", "when": [{"dwell": {"on": "visit", "atLeast": "2s"}}],
	 "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`)
	c := visitOn(t, col)
	frames(t, c, productPage("1"))
	first := time.Now()
	time.Sleep(1200 * time.Millisecond)
	frames(t, c, productPage("2"))
	second := time.Now()
	o, at := nextOffer(t, c)
	if o.RuleID != rule || at.Sub(first) < 1800*time.Millisecond {
		t.Fatalf("offer %+v %v after the visit's first page", o, at.Sub(first))
	}
	if d := at.Sub(second); d > 1500*time.Millisecond {
		t.Fatalf("offer %v after the second page: the page change restarted the visit's dwell", d)
	}
}

// visit conditions: the visit's state and whether its identity was proven.
func TestVisitCondition(t *testing.T) {
	const secret = "engage-test-identity-secret-0123456789"
	col := collectortest.Start(t, "--identity-secret", secret)
	rule := addRule(t, col, `{"name": "verified", "when": [{"event": {"name": "Ping"}},
	 {"visit": {"state": "authenticated", "verified": true}}], "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`)
	sentinel := addRule(t, col, onEvent("Sentinel", ""))

	anon := visitOn(t, col)
	frames(t, anon, collectortest.Event("Ping", collectortest.NewID(), nil))
	settled(t, col, anon, sentinel)

	claimed := visitOn(t, col)
	claimed.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(), map[string]any{"userId": "claimer"}))
	frames(t, claimed, collectortest.Event("Ping", collectortest.NewID(), nil))
	settled(t, col, claimed, sentinel)
	if n := offered(col, rule); n != 0 {
		t.Fatalf("%d offers to an anonymous and an unverified visit", n)
	}

	proven := visitOn(t, col)
	proven.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(),
		map[string]any{"userId": "alice", "userHash": identity.UserHash(secret, "alice")}))
	frames(t, proven, collectortest.Event("Ping", collectortest.NewID(), nil))
	settled(t, col, proven, sentinel)
	if n := offered(col, rule); n != 1 {
		t.Fatalf("%d offers after a verified sign-in, want 1", n)
	}
}

// visitorData conditions compare a JSON pointer into the visit's visitor
// data.
func TestVisitorDataCondition(t *testing.T) {
	col := collectortest.Start(t)
	rule := addRule(t, col, `{"name": "corporate", "when": [{"event": {"name": "Ping"}},
	 {"visitorData": {"/crm/segment": {"eq": "corporate"}}}], "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`)
	sentinel := addRule(t, col, onEvent("Sentinel", ""))
	for _, tc := range []struct {
		segment string
		want    int
	}{{"", 0}, {"retail", 0}, {"corporate", 1}} {
		visitor := collectortest.NewID()
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: collectortest.NewID()})
		if tc.segment != "" {
			if st, b := col.Do("PUT", "/v1/visitors/"+visitor+"/visitor-data/crm", map[string]string{"segment": tc.segment}); st != 200 {
				t.Fatalf("visitor data: %d %s", st, b)
			}
		}
		frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
		settled(t, col, c, sentinel)
		if n := offered(col, rule); n != tc.want {
			t.Fatalf("segment %q: %d offers, want %d", tc.segment, n, tc.want)
		}
	}
}

// Quiet hours forbid offers during a daily period, in its time zone,
// read on the engine's clock: here a clock set to chosen instants, so
// that the test does not depend on when it runs. One rule's window
// crosses midnight (22:00 to 07:00), another's does not (09:00 to
// 17:00), a third has no time zone (UTC); From is in the window, To is
// not.
func TestQuietHours(t *testing.T) {
	var mu sync.Mutex
	var now time.Time
	col := collectortest.StartWith(t, t.TempDir(), func(m *daemon.Main) {
		m.EngagementNow = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	tokyo, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	night := addRule(t, col, onEvent("Ping", `, "unless": {"quietHours": {"from": "22:00", "to": "07:00", "tz": "Asia/Tokyo"}}`))
	day := addRule(t, col, onEvent("Ping", `, "unless": {"quietHours": {"from": "09:00", "to": "17:00", "tz": "Asia/Tokyo"}}`))
	utc := addRule(t, col, onEvent("Ping", `, "unless": {"quietHours": {"from": "23:00", "to": "01:00"}}`))
	sentinel := addRule(t, col, onEvent("Sentinel", ""))
	for _, tc := range []struct {
		at              time.Time
		night, day, utc bool // quiet?
	}{
		{time.Date(2025, 1, 15, 23, 30, 0, 0, tokyo), true, false, false}, // 14:30 UTC
		{time.Date(2025, 1, 16, 0, 10, 0, 0, tokyo), true, false, false},  // after midnight
		{time.Date(2025, 1, 16, 6, 59, 0, 0, tokyo), true, false, false},
		{time.Date(2025, 1, 16, 7, 0, 0, 0, tokyo), false, false, false}, // "to" is not quiet
		{time.Date(2025, 1, 16, 9, 0, 0, 0, tokyo), false, true, true},   // 00:00 UTC
		{time.Date(2025, 1, 16, 12, 0, 0, 0, tokyo), false, true, false},
		{time.Date(2025, 1, 16, 17, 0, 0, 0, tokyo), false, false, false},
		{time.Date(2025, 1, 16, 21, 59, 0, 0, tokyo), false, false, false},
		{time.Date(2025, 1, 16, 22, 0, 0, 0, tokyo), true, false, false},
		{time.Date(2025, 1, 16, 22, 59, 0, 0, time.UTC), false, false, false}, // 07:59 in Tokyo
		{time.Date(2025, 1, 16, 23, 30, 0, 0, time.UTC), false, false, true},  // 08:30 in Tokyo
		{time.Date(2025, 1, 17, 0, 59, 0, 0, time.UTC), false, true, true},    // 09:59 in Tokyo
	} {
		mu.Lock()
		now = tc.at
		mu.Unlock()
		before := []int{offered(col, night), offered(col, day), offered(col, utc)}
		c := visitOn(t, col)
		frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
		settled(t, col, c, sentinel)
		for i, r := range []struct {
			name  string
			id    string
			quiet bool
		}{{"22:00-07:00 Tokyo", night, tc.night}, {"09:00-17:00 Tokyo", day, tc.day}, {"23:00-01:00 UTC", utc, tc.utc}} {
			want := 1
			if r.quiet {
				want = 0
			}
			if made := offered(col, r.id) - before[i]; made != want {
				t.Errorf("at %s (%s in Tokyo), rule %s: %d offers, want %d", tc.at.UTC().Format(time.RFC3339),
					tc.at.In(tokyo).Format("15:04"), r.name, made, want)
			}
		}
	}
}
