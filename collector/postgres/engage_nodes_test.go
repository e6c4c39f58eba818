package postgres_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// engageDo sends an API request to a node with the admin token (which
// every node accepts; the node that made it knows it).
func engageDo(t *testing.T, nd *node, token, method, path, body string) []byte {
	t.Helper()
	st, b := collectortest.Request(t, nd.URL(), token, method, path, body)
	if st/100 != 2 {
		t.Fatalf("%s %s on %s: %d %s", method, path, nd.Addr(), st, b)
	}
	return b
}

// readOffers reads frames until the ack of the events sent (none: until
// an offer) and returns the offers that came meanwhile.
func readOffers(t *testing.T, c *collectortest.Client, events ...protocol.Event) []protocol.Notification {
	t.Helper()
	if len(events) > 0 {
		c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Events: events})
	}
	var offers []protocol.Notification
	for {
		typ, b, err := c.Read()
		if err != nil {
			t.Fatalf("reading frames: %v", err)
		}
		switch typ {
		case protocol.TypeNotification:
			var n protocol.Notification
			json.Unmarshal(b, &n)
			offers = append(offers, n)
			if len(events) == 0 {
				return offers
			}
		case protocol.TypeAck:
			return offers
		}
	}
}

func productPage(n string) protocol.Event {
	e := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
	e.URL = "https://shop.example/products/" + n
	return e
}

// Two nodes on one database: a category and a rule created on one reach
// the other (read again every 2 s); a visit whose product pages go to both
// nodes is counted across them (each node rebuilds the visit from the
// stored events), and gets one offer; the page categories stored by the
// second node feed the category breakdown.
func TestNodesEngagement(t *testing.T) {
	nodes := startNodes(t, pgtest.NewDatabase(t), 2, nil)
	a, b := nodes[0], nodes[1]
	token := a.AdminToken
	if token == "" {
		token = b.AdminToken
	}
	// Node b meets its rules empty: it starts before they exist.
	engageDo(t, a, token, "POST", "/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/products"}}]}`)
	var rule struct{ ID string }
	json.Unmarshal(engageDo(t, a, token, "POST", "/v1/engagement/rules", `{"name": "three products",
	 "when": [{"count": {"atLeast": 3, "within": "10m", "of": {"page": {"category": "products"}}}}],
	 "unless": {"offeredWithin": "24h"}, "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`), &rule)
	time.Sleep(2500 * time.Millisecond)

	visitor, visit := collectortest.NewID(), collectortest.NewID()
	onA := collectortest.Dial(t, "ws://"+a.Addr()+"/v1/ws", protocol.Hello{VisitorID: visitor, VisitID: visit})
	onB := collectortest.Dial(t, "ws://"+b.Addr()+"/v1/ws", protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: onA.Welcome.VisitorKey})
	if got := readOffers(t, onB, productPage("1")); len(got) > 0 {
		t.Fatalf("an offer after one page: %+v", got)
	}
	if got := readOffers(t, onA, productPage("2")); len(got) > 0 {
		t.Fatalf("an offer after two pages: %+v", got)
	}
	offers := readOffers(t, onB, productPage("3"))
	if len(offers) == 0 {
		offers = readOffers(t, onB)
	}
	if offers[0].RuleID != rule.ID {
		t.Fatalf("offer %+v, want one of rule %s", offers[0], rule.ID)
	}
	readOffers(t, onA, productPage("4"))
	readOffers(t, onB, productPage("5"))
	time.Sleep(300 * time.Millisecond)
	var st struct{ Offered int }
	json.Unmarshal(engageDo(t, a, token, "GET", "/v1/engagement/rules/"+rule.ID+"/stats", ""), &st)
	if st.Offered != 1 {
		t.Fatalf("%d offers to one visit across two nodes, want 1", st.Offered)
	}

	q := url.Values{"dimension": {"category"}, "bots": {"include"}, "since": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}}
	if body := string(engageDo(t, b, token, "GET", "/v1/stats/breakdown?"+q.Encode(), "")); !strings.Contains(body, `{"value":"products","count":5}`) {
		t.Fatalf("breakdown by category on PostgreSQL: %s", body)
	}
}

// A dwell both nodes time (each holds a tab of the visit, and rebuilt the
// page it is on) makes one offer: the offer is made under the visit's
// lock, and refused when the rule made one since the page began.
func TestNodesDwellOffersOnce(t *testing.T) {
	nodes := startNodes(t, pgtest.NewDatabase(t), 2, nil)
	a, b := nodes[0], nodes[1]
	token := a.AdminToken
	if token == "" {
		token = b.AdminToken
	}
	var rule struct{ ID string }
	json.Unmarshal(engageDo(t, a, token, "POST", "/v1/engagement/rules", `{"name": "dwell",
	 "when": [{"dwell": {"on": "page", "atLeast": "1s"}}], "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`), &rule)
	time.Sleep(2500 * time.Millisecond)

	visitor, visit := collectortest.NewID(), collectortest.NewID()
	onA := collectortest.Dial(t, "ws://"+a.Addr()+"/v1/ws", protocol.Hello{VisitorID: visitor, VisitID: visit})
	onB := collectortest.Dial(t, "ws://"+b.Addr()+"/v1/ws", protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: onA.Welcome.VisitorKey})
	page := productPage("1")
	readOffers(t, onA, page)
	readOffers(t, onB, collectortest.Event("Ping", page.PageID, nil))
	var st struct{ Offered int }
	for deadline := time.Now().Add(10 * time.Second); st.Offered == 0 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		json.Unmarshal(engageDo(t, a, token, "GET", "/v1/engagement/rules/"+rule.ID+"/stats", ""), &st)
	}
	time.Sleep(time.Second)
	json.Unmarshal(engageDo(t, a, token, "GET", "/v1/engagement/rules/"+rule.ID+"/stats", ""), &st)
	if st.Offered != 1 {
		t.Fatalf("%d offers for one dwell timed on two nodes, want 1", st.Offered)
	}
}
