package engage_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// frames sends events and reads frames until their ack, returning the ack
// and the offers that came meanwhile.
func frames(t *testing.T, c *collectortest.Client, events ...protocol.Event) (protocol.Ack, []protocol.Notification) {
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
			if err := json.Unmarshal(b, &n); err != nil {
				t.Fatal(err)
			}
			offers = append(offers, n)
			if len(events) == 0 {
				return protocol.Ack{}, offers
			}
		case protocol.TypeAck:
			var a protocol.Ack
			json.Unmarshal(b, &a)
			return a, offers
		}
	}
}

func productPage(n string) protocol.Event {
	e := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
	e.URL = "https://shop.example/products/" + n
	return e
}

type receiver struct {
	mu    sync.Mutex
	types []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	var body struct {
		Type string `json:"type"`
	}
	json.Unmarshal(b, &body)
	r.mu.Lock()
	r.types = append(r.types, body.Type)
	r.mu.Unlock()
}

func (r *receiver) has(t string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.types {
		if x == t {
			return true
		}
	}
	return false
}

func eventNames(t *testing.T, col *collectortest.Collector, visit string) string {
	var page struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	col.Get("/v1/visits/"+visit+"/events?limit=100", &page)
	var names []string
	for _, e := range page.Items {
		names = append(names, e.Name)
	}
	return strings.Join(names, ",")
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

const threeProducts = `{"name": "chat after three products",
 "when": [{"count": {"atLeast": 3, "within": "10m", "of": {"page": {"category": "products"}}}}],
 "unless": {"offeredWithin": "24h"},
 "then": {"offer": {"channel": "chat", "data": {"text": "Need help?"}, "ttl": "2s"}},
 "goal": "Checkout"}`

// The documented rule offers on the third product page and not before, on
// every open page of the visit; the offer is in the history and goes to a
// webhook; an answer is accepted once; offeredWithin blocks a second
// offer; an unanswered offer times out.
func TestThreeProductPagesMakeOneOffer(t *testing.T) {
	rcv := &receiver{}
	hooks := httptest.NewServer(rcv)
	defer hooks.Close()
	col := collectortest.Start(t, "--webhook-allow-private")
	if st, b := col.Do("POST", "/v1/webhooks", map[string]any{"url": hooks.URL,
		"events": []string{"engagement.offered", "engagement.accepted", "engagement.timed_out"}}); st != 201 {
		t.Fatalf("webhook: %d %s", st, b)
	}
	if st, b := col.Do("POST", "/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/products"}}, {"title": {"contains": "Product"}}]}`); st != 201 {
		t.Fatalf("category: %d %s", st, b)
	}
	st, b := col.Do("POST", "/v1/engagement/rules", threeProducts)
	if st != 201 {
		t.Fatalf("rule: %d %s", st, b)
	}
	var rule struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &rule)

	visitor, visit := collectortest.NewID(), collectortest.NewID()
	tab1 := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit})
	tab2 := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: tab1.Welcome.VisitorKey})

	for _, n := range []string{"1", "2"} {
		if _, offers := frames(t, tab1, productPage(n)); len(offers) > 0 {
			t.Fatalf("an offer after %s product pages: %+v", n, offers)
		}
	}
	_, offers := frames(t, tab1, productPage("3"))
	if len(offers) == 0 {
		_, offers = frames(t, tab1)
	}
	o := offers[0]
	if o.Kind != "offer" || o.OfferID == "" || o.RuleID != rule.ID || o.Channel != "chat" || !strings.Contains(string(o.Data), "Need help?") || o.ExpiresAt == "" {
		t.Fatalf("offer frame = %+v", o)
	}
	if _, other := frames(t, tab2); other[0].OfferID != o.OfferID {
		t.Fatalf("second tab got %+v", other[0])
	}
	if names := eventNames(t, col, visit); !strings.Contains(names, protocol.EventEngagementOffered) {
		t.Fatalf("history = %s", names)
	}
	// The event names the instant the frame does, in the same text, so
	// that the page's offer and the history's (or a webhook's) compare.
	var history struct {
		Items []struct {
			Name string
			Data struct{ OfferID, ExpiresAt string }
		}
	}
	col.Get("/v1/visits/"+visit+"/events?limit=100", &history)
	for _, e := range history.Items {
		if e.Name == protocol.EventEngagementOffered && (e.Data.OfferID != o.OfferID || e.Data.ExpiresAt != o.ExpiresAt) {
			t.Fatalf("EngagementOffered %+v, the frame's offer %s expires at %s", e.Data, o.OfferID, o.ExpiresAt)
		}
	}
	waitFor(t, "the engagement.offered webhook", func() bool { return rcv.has("engagement.offered") })

	// A fourth product page: offeredWithin forbids another offer.
	if _, more := frames(t, tab1, productPage("4")); len(more) > 0 {
		t.Fatalf("a second offer: %+v", more)
	}
	accept := collectortest.Event(protocol.EventEngagementAccepted, collectortest.NewID(), map[string]string{"offerId": o.OfferID})
	if ack, _ := frames(t, tab1, accept); len(ack.Rejected) > 0 {
		t.Fatalf("accept rejected: %+v", ack.Rejected)
	}
	again := collectortest.Event(protocol.EventEngagementAccepted, collectortest.NewID(), map[string]string{"offerId": o.OfferID})
	if ack, _ := frames(t, tab1, again); len(ack.Rejected) != 1 {
		t.Fatalf("a second answer to one offer was taken: %+v", ack)
	}
	waitFor(t, "the engagement.accepted webhook", func() bool { return rcv.has("engagement.accepted") })

	// Another visitor does not answer: the offer times out after its ttl.
	v2, visit2 := collectortest.NewID(), collectortest.NewID()
	tab3 := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: v2, VisitID: visit2})
	frames(t, tab3, productPage("1"), productPage("2"), productPage("3"))
	waitFor(t, "EngagementTimedOut", func() bool {
		return strings.Contains(eventNames(t, col, visit2), protocol.EventEngagementTimedOut)
	})
	waitFor(t, "the engagement.timed_out webhook", func() bool { return rcv.has("engagement.timed_out") })

	var stats struct{ Offered, Accepted, TimedOut int }
	col.Get("/v1/engagement/rules/"+rule.ID+"/stats", &stats)
	if stats.Offered != 2 || stats.Accepted != 1 || stats.TimedOut != 1 {
		t.Fatalf("stats = %+v", stats)
	}
}

// A faulty rule is a 400 naming the field; a PUT needs If-Match and the
// current version.
func TestRuleValidationAndVersions(t *testing.T) {
	col := collectortest.Start(t)
	bad := strings.Replace(threeProducts, `"10m"`, `"ten minutes"`, 1)
	st, b := col.Do("POST", "/v1/engagement/rules", bad)
	if st != 400 || !strings.Contains(string(b), "/when/0/count/within") {
		t.Fatalf("bad rule: %d %s", st, b)
	}
	st, b = col.Do("POST", "/v1/engagement/rules", threeProducts)
	if st != 201 {
		t.Fatalf("rule: %d %s", st, b)
	}
	var rule struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &rule)
	if st, b := col.Do("PUT", "/v1/engagement/rules/"+rule.ID, threeProducts); st != 428 {
		t.Fatalf("PUT without If-Match: %d %s", st, b)
	}
	if st, b := col.Do("PUT", "/v1/engagement/rules/"+rule.ID, threeProducts, "If-Match", `"7"`); st != 412 {
		t.Fatalf("PUT with a stale version: %d %s", st, b)
	}
	if st, b := col.Do("PUT", "/v1/engagement/rules/"+rule.ID, threeProducts, "If-Match", `"1"`); st != 200 || !strings.Contains(string(b), `"version":2`) {
		t.Fatalf("PUT: %d %s", st, b)
	}
	if st, b := col.Do("DELETE", "/v1/engagement/rules/"+rule.ID, nil); st != 204 {
		t.Fatalf("DELETE: %d %s", st, b)
	}
}
