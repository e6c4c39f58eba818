package engage_test

import (
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
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

// Quiet hours forbid offers during a daily period, in its time zone. The
// periods are set around the collector's clock: now within one, not in
// the other.
func TestQuietHours(t *testing.T) {
	col := collectortest.Start(t)
	loc, err := time.LoadLocation("Asia/Tokyo")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().In(loc)
	hm := func(d time.Duration) string { return now.Add(d).Format("15:04") }
	quiet := addRule(t, col, onEvent("Ping", `, "unless": {"quietHours": {"from": "`+hm(-time.Hour)+`", "to": "`+hm(time.Hour)+`", "tz": "Asia/Tokyo"}}`))
	awake := addRule(t, col, onEvent("Ping", `, "unless": {"quietHours": {"from": "`+hm(2*time.Hour)+`", "to": "`+hm(3*time.Hour)+`", "tz": "Asia/Tokyo"}}`))
	sentinel := addRule(t, col, onEvent("Sentinel", ""))
	c := visitOn(t, col)
	frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
	settled(t, col, c, sentinel)
	if q, a := offered(col, quiet), offered(col, awake); q != 0 || a != 1 {
		t.Fatalf("offers: %d in quiet hours (want 0), %d outside them (want 1)", q, a)
	}
}
