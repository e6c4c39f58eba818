package engage_test

import (
	"testing"

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
