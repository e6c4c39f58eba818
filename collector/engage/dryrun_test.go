package engage_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

type dryCandidate struct {
	Trigger, EventID, Event string
	At                      time.Time
	PageID, URL             string
	Outcome, Pointer        string
	Reason                  string
}

type dryResult struct {
	RuleID, VisitID   string
	Events, Offers    int
	FirstOffer        *dryCandidate
	Candidates        []dryCandidate
	OmittedCandidates int
}

// timed is an event and how long after the visit's base time it happened.
type timed struct {
	after time.Duration
	ev    protocol.Event
}

// pastVisit stores a visit whose events happened at base plus their
// offsets (the browser's clock agrees with the collector's: the batch is
// sent now, stamped now) and returns its id and its events' stored times.
func pastVisit(t *testing.T, col *collectortest.Collector, base time.Time, evs ...timed) (string, map[string]time.Time) {
	t.Helper()
	visit := collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: visit})
	batch := make([]protocol.Event, len(evs))
	for i, e := range evs {
		e.ev.Timestamp = base.Add(e.after).UTC().Format("2006-01-02T15:04:05.000Z07:00")
		batch[i] = e.ev
	}
	if ack, _ := frames(t, c, batch...); len(ack.Rejected) > 0 {
		t.Fatalf("events rejected: %+v", ack.Rejected)
	}
	var page struct {
		Items []struct {
			EventID     string    `json:"eventId"`
			CorrectedAt time.Time `json:"correctedAt"`
		} `json:"items"`
	}
	col.Get("/v1/visits/"+visit+"/events?limit=1000", &page)
	at := map[string]time.Time{}
	for _, e := range page.Items {
		at[e.EventID] = e.CorrectedAt
	}
	return visit, at
}

func page(url string) protocol.Event {
	e := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
	e.URL = url
	return e
}

func dryRun(t *testing.T, col *collectortest.Collector, path string, body any) (int, dryResult, string) {
	t.Helper()
	st, b := col.Do("POST", path, body)
	var res dryResult
	if st == 200 {
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatalf("POST %s: %v in %s", path, err, b)
		}
	}
	return st, res, string(b)
}

func outcomes(cs []dryCandidate) string {
	var out []string
	for _, c := range cs {
		s := c.Trigger + ":" + c.Outcome
		if c.Pointer != "" {
			s += ":" + c.Pointer
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

// A saved rule against a past visit: the documented "three product pages
// in 10 minutes" would have offered on the third product page (a page of
// another category and an unrelated event are not candidates), and
// offeredWithin would have forbidden a fourth. Nothing is offered, stored
// or counted.
func TestDryRunSavedRule(t *testing.T) {
	col := collectortest.Start(t)
	if st, b := col.Do("POST", "/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/products"}}]}`); st != 201 {
		t.Fatalf("category: %d %s", st, b)
	}
	p1, home, p2, click, p3, p4 := page("https://shop.example/products/1"), page("https://shop.example/"),
		page("https://shop.example/products/2"), collectortest.Event("Click", "", nil),
		page("https://shop.example/products/3"), page("https://shop.example/products/4")
	click.PageID = p2.PageID
	visit, at := pastVisit(t, col, time.Now().Add(-30*time.Minute),
		timed{0, p1}, timed{time.Minute, home}, timed{2 * time.Minute, p2}, timed{150 * time.Second, click},
		timed{3 * time.Minute, p3}, timed{4 * time.Minute, p4})
	rule := addRule(t, col, `{"name": "chat after three products",
	 "when": [{"count": {"atLeast": 3, "within": "10m", "of": {"page": {"category": "products"}}}}],
	 "unless": {"offeredWithin": "24h"},
	 "then": {"offer": {"channel": "chat", "data": {"text": "Need help?"}, "ttl": "30s"}}}`)

	st, res, b := dryRun(t, col, "/v1/engagement/rules/"+rule+"/dry-run?visitId="+visit, nil)
	if st != 200 {
		t.Fatalf("dry run: %d %s", st, b)
	}
	if got, want := outcomes(res.Candidates), "event:unmet:/when/0 event:unmet:/when/0 event:offered event:blocked:/unless/offeredWithin"; got != want {
		t.Fatalf("candidates %s, want %s\n%s", got, want, b)
	}
	if res.Candidates[1].Reason != "2 of the 3 matching events needed within 10m0s" {
		t.Errorf("the second product page's reason: %q", res.Candidates[1].Reason)
	}
	f := res.FirstOffer
	if res.Offers != 1 || f == nil || f.EventID != p3.EventID || !f.At.Equal(at[p3.EventID]) || f.PageID != p3.PageID || f.URL != p3.URL {
		t.Fatalf("offers %d, first %+v; want the third product page %s at %s\n%s", res.Offers, f, p3.EventID, at[p3.EventID], b)
	}
	if res.RuleID != rule || res.VisitID != visit || res.Events != 6 {
		t.Errorf("rule %s visit %s events %d", res.RuleID, res.VisitID, res.Events)
	}
	// No side effect: no offer recorded, no event in the visit.
	if n := offered(col, rule); n != 0 {
		t.Errorf("the dry run recorded %d offers", n)
	}
	if names := eventNames(t, col, visit); strings.Contains(names, "Engagement") {
		t.Errorf("the dry run wrote events: %s", names)
	}

	for _, tc := range []struct {
		path   string
		status int
		detail string
	}{
		{"/v1/engagement/rules/" + rule + "/dry-run?visitId=" + collectortest.NewID(), 404, "visit"},
		{"/v1/engagement/rules/" + collectortest.NewID() + "/dry-run?visitId=" + visit, 404, "rule"},
		{"/v1/engagement/rules/" + rule + "/dry-run", 400, "visitId is required"},
		{"/v1/engagement/rules/" + rule + "/dry-run?visitId=nope", 400, "visitId must be a ULID"},
		{"/v1/engagement/rules/" + rule + "/dry-run?visitId=" + visit + "&at=1", 400, "unknown query parameter"},
	} {
		if st, _, b := dryRun(t, col, tc.path, nil); st != tc.status || !strings.Contains(b, tc.detail) || !strings.Contains(b, `"status":`) {
			t.Errorf("POST %s: %d %s, want %d naming %q", tc.path, st, b, tc.status, tc.detail)
		}
	}
}

// A rule not saved yet, with a dwell: the dwell is reached on the stored
// times (45s after the page was entered, before the next page), and
// again on the next page, where offeredWithin forbids it; events while a
// dwell is pending are not candidates.
func TestDryRunUnsavedRuleWithDwell(t *testing.T) {
	col := collectortest.Start(t)
	a, click, b2, click2 := page("https://shop.example/a"), collectortest.Event("Click", "", nil), page("https://shop.example/b"), collectortest.Event("Click", "", nil)
	click.PageID, click2.PageID = a.PageID, b2.PageID
	visit, at := pastVisit(t, col, time.Now().Add(-20*time.Minute),
		timed{0, a}, timed{10 * time.Second, click}, timed{time.Minute, b2}, timed{70 * time.Second, click2})
	rule := json.RawMessage(`{"name": "dwell", "when": [{"dwell": {"on": "page", "atLeast": "45s"}}],
	 "unless": {"offeredWithin": "1h"}, "then": {"offer": {"channel": "chat"}}}`)
	st, res, b := dryRun(t, col, "/v1/engagement/dry-run", map[string]any{"rule": rule, "visitId": visit})
	if st != 200 {
		t.Fatalf("dry run: %d %s", st, b)
	}
	if got, want := outcomes(res.Candidates), "event:waiting:/when/0 dwell:offered event:waiting:/when/0 dwell:blocked:/unless/offeredWithin"; got != want {
		t.Fatalf("candidates %s, want %s\n%s", got, want, b)
	}
	f := res.FirstOffer
	if f == nil || f.Trigger != "dwell" || f.EventID != "" || f.PageID != a.PageID || !f.At.Equal(at[a.EventID].Add(45*time.Second)) {
		t.Fatalf("first offer %+v, want the dwell on page a at %s", f, at[a.EventID].Add(45*time.Second))
	}
	if c := res.Candidates[3]; c.PageID != b2.PageID || !c.At.Equal(at[b2.EventID].Add(45*time.Second)) {
		t.Errorf("the second dwell %+v, want page b at %s", c, at[b2.EventID].Add(45*time.Second))
	}
	if res.RuleID != "" || res.Offers != 1 {
		t.Errorf("rule %q offers %d", res.RuleID, res.Offers)
	}
	// Not stored: the collector still has no rule.
	var rules struct{ Items []json.RawMessage }
	col.Get("/v1/engagement/rules", &rules)
	if len(rules.Items) != 0 {
		t.Errorf("the dry run stored a rule: %d", len(rules.Items))
	}

	for _, tc := range []struct {
		body   any
		status int
		detail string
	}{
		{map[string]any{"rule": json.RawMessage(`{"name": "d", "when": [{"dwell": {"on": "page", "atLeast": "2 days"}}], "then": {"offer": {"channel": "chat"}}}`), "visitId": visit},
			400, "/rule/when/0/dwell/atLeast"},
		{map[string]any{"rule": rule}, 400, "/visitId"},
		{map[string]any{"visitId": visit}, 400, "/rule: required"},
		{map[string]any{"rule": rule, "visitId": visit, "ruleId": "x"}, 400, "/ruleId: unknown field"},
		{map[string]any{"rule": rule, "visitId": collectortest.NewID()}, 404, "visit"},
		{"[1]", 400, "want a JSON object"},
	} {
		if st, _, b := dryRun(t, col, "/v1/engagement/dry-run", tc.body); st != tc.status || !strings.Contains(b, tc.detail) {
			t.Errorf("POST %v: %d %s, want %d naming %q", tc.body, st, b, tc.status, tc.detail)
		}
	}
}

// Quiet hours and the other conditions are read at the stored times and
// against the visit as stored: a window across midnight (23:00 to 01:00
// UTC) forbids the events of 23:30 and 00:30, not that of 07:30; a
// visitor-data condition that does not hold is named.
func TestDryRunQuietHoursAtStoredTimes(t *testing.T) {
	col := collectortest.Start(t)
	midnight := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	p1, p2, p3 := collectortest.Event("Ping", "", nil), collectortest.Event("Ping", "", nil), collectortest.Event("Ping", "", nil)
	visit, _ := pastVisit(t, col, midnight, timed{23*time.Hour + 30*time.Minute, p1}, timed{24*time.Hour + 30*time.Minute, p2},
		timed{31*time.Hour + 30*time.Minute, p3})
	quiet := json.RawMessage(`{"name": "q", "when": [{"event": {"name": "Ping"}}], "unless": {"quietHours": {"from": "23:00", "to": "01:00"}},
	 "then": {"offer": {"channel": "chat"}}}`)
	st, res, b := dryRun(t, col, "/v1/engagement/dry-run", map[string]any{"rule": quiet, "visitId": visit})
	if st != 200 {
		t.Fatalf("dry run: %d %s", st, b)
	}
	if got, want := outcomes(res.Candidates), "event:blocked:/unless/quietHours event:blocked:/unless/quietHours event:offered"; got != want {
		t.Fatalf("candidates %s, want %s\n%s", got, want, b)
	}
	if res.FirstOffer == nil || res.FirstOffer.EventID != p3.EventID {
		t.Fatalf("first offer %+v, want the Ping of 07:30", res.FirstOffer)
	}
	corporate := json.RawMessage(`{"name": "c", "when": [{"event": {"name": "Ping"}}, {"visitorData": {"/crm/segment": {"eq": "corporate"}}}],
	 "then": {"offer": {"channel": "chat"}}}`)
	if st, res, b := dryRun(t, col, "/v1/engagement/dry-run", map[string]any{"rule": corporate, "visitId": visit}); st != 200 ||
		outcomes(res.Candidates) != "event:unmet:/when/1 event:unmet:/when/1 event:unmet:/when/1" || res.FirstOffer != nil {
		t.Fatalf("visitor-data rule: %d %s", st, b)
	}
}

// A visit of more events than a dry run replays is refused with 422, not
// read whole.
func TestDryRunRefusesALongVisit(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "0")
	visit := collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: visit})
	for sent := 0; sent <= 10_000; sent += protocol.MaxBatchEvents {
		batch := make([]protocol.Event, protocol.MaxBatchEvents)
		for i := range batch {
			batch[i] = collectortest.Event("Click", "", nil)
		}
		if ack, _ := frames(t, c, batch...); len(ack.Rejected) > 0 {
			t.Fatalf("events rejected: %+v", ack.Rejected[0])
		}
	}
	rule := json.RawMessage(onEvent("Click", ""))
	st, _, b := dryRun(t, col, "/v1/engagement/dry-run", map[string]any{"rule": rule, "visitId": visit})
	if st != 422 || !strings.Contains(b, `"code":"unprocessable"`) || !strings.Contains(b, "more than 10000 events") {
		t.Fatalf("a visit of 10,500 events: %d %.300s", st, b)
	}
}
