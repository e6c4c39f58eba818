package engage_test

import (
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// A rule counting 3 product pages offers on the third even when the
// collector restarted after the second: the engine rebuilds the visit's
// window from its stored events when it first meets the visit.
func TestCountSurvivesRestart(t *testing.T) {
	col := collectortest.Start(t)
	if st, b := col.Do("POST", "/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/products"}}]}`); st != 201 {
		t.Fatalf("category: %d %s", st, b)
	}
	rule := addRule(t, col, threeProducts)
	visitor, visit := collectortest.NewID(), collectortest.NewID()
	tab := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit})
	key := tab.Welcome.VisitorKey
	for _, n := range []string{"1", "2"} {
		if _, offers := frames(t, tab, productPage(n)); len(offers) > 0 {
			t.Fatalf("an offer after %s product pages", n)
		}
	}
	tab.Conn.CloseNow()
	dir := col.DataDir
	col.Stop()

	col = collectortest.StartIn(t, dir)
	tab = collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: key})
	if tab.Welcome.VisitID != visit {
		t.Fatalf("the visit did not continue: %s, want %s", tab.Welcome.VisitID, visit)
	}
	_, offers := frames(t, tab, productPage("3"))
	if len(offers) == 0 {
		_, offers = frames(t, tab)
	}
	if offers[0].RuleID != rule || offered(col, rule) != 1 {
		t.Fatalf("offer %+v, %d offers", offers[0], offered(col, rule))
	}
}

// A dwell on the page due while the collector was down is offered when it
// starts again, with no further event from the visit: the engine times the
// dwells of the open visits again from their stored events.
func TestDwellSurvivesRestart(t *testing.T) {
	col := collectortest.Start(t)
	rule := addRule(t, col, `{"name": "dwell", "when": [{"dwell": {"on": "page", "atLeast": "3s"}}],
	 "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`)
	visit := collectortest.NewID()
	tab := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: visit})
	if _, offers := frames(t, tab, productPage("1")); len(offers) > 0 {
		t.Fatalf("an offer before the dwell: %+v", offers)
	}
	entered := time.Now()
	before := eventNames(t, col, visit)
	tab.Conn.CloseNow()
	dir := col.DataDir
	col.Stop()

	col = collectortest.StartIn(t, dir)
	waitFor(t, "the dwell's offer after the restart", func() bool { return offered(col, rule) == 1 })
	if d := time.Since(entered); d < 3*time.Second {
		t.Fatalf("offered %v after the page was entered, before the dwell", d)
	}
	// The visit sent nothing since: its history is what it was, and the
	// offer.
	if got := eventNames(t, col, visit); got != before+",EngagementOffered" && got != "EngagementOffered,"+before {
		t.Fatalf("events %s, want %s and the offer", got, before)
	}
}

// A rule added between the second and the third product page does not
// make the engine forget what the visit did: the rules it still has keep
// their counts (relayout), and the third page makes the offer.
func TestCountSurvivesRuleChange(t *testing.T) {
	col := collectortest.Start(t)
	if st, b := col.Do("POST", "/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/products"}}]}`); st != 201 {
		t.Fatalf("category: %d %s", st, b)
	}
	rule := addRule(t, col, threeProducts)
	sentinel := addRule(t, col, onEvent("Sentinel", ""))
	tab := visitOn(t, col)
	for _, n := range []string{"1", "2"} {
		frames(t, tab, productPage(n))
	}
	settled(t, col, tab, sentinel) // the engine counted both pages
	if n := offered(col, rule); n != 0 {
		t.Fatalf("%d offers after two product pages", n)
	}
	addRule(t, col, onEvent("Checkout", ""))
	frames(t, tab, productPage("3"))
	waitFor(t, "the offer on the third product page", func() bool { return offered(col, rule) == 1 })
}
