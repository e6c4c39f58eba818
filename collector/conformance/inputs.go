package conformance

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// The rules about what a browser may send (docs/protocol.md#what-the-collector-accepts): times the
// answers can always encode, ids in one case, pages owned by one visit, and
// event data that is valid UTF-8 JSON with finite numbers. Each test sends
// what once broke a collector, next to good events that must still be
// stored.

// maxSkew and maxDuration are the bounds of docs/protocol.md#what-the-collector-accepts: a corrected
// time is at most 90 days before its receipt, a duration at most a year.
const (
	maxSkew     = 90 * 24 * time.Hour
	maxDuration = 365 * 24 * time.Hour
)

// rejectedCodes maps the rejected eventIds of an answer to their codes,
// and fails on a rejection without code or message.
func (a *collectAnswer) rejectedCodes(t *testing.T) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, r := range a.Ack.Rejected {
		if r.Code == "" || r.Message == "" {
			t.Fatalf("rejection %+v without code or message", r)
		}
		m[r.EventID] = r.Code
	}
	return m
}

// wantValidList GETs a list as admin and requires a 200 JSON answer that
// decodes to a list with items, every time the collector settled in
// them inside [lo, hi].
func (s *suite) wantValidList(t *testing.T, path string, lo, hi time.Time) []map[string]any {
	t.Helper()
	var l struct {
		Items *[]map[string]any `json:"items"`
	}
	r := s.getJSON(t, path, &l)
	if !utf8.Valid(r.Body) {
		t.Fatalf("%s: the answer is not valid UTF-8", r)
	}
	if l.Items == nil || len(*l.Items) == 0 {
		// A 200 whose body is a problem (an encoder that failed after
		// the status went out) has no items.
		t.Fatalf("%s: want a list with items", r)
	}
	for _, item := range *l.Items {
		for _, k := range []string{"timestamp", "correctedAt", "receivedAt", "enteredAt", "exitedAt", "startedAt", "lastSeenAt"} {
			v, ok := item[k].(string)
			if !ok {
				continue
			}
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				t.Fatalf("%s: %s %q: %v", r, k, v, err)
			}
			// timestamp is the browser's own clock, kept as sent: it need
			// only encode.
			if k != "timestamp" && (at.Before(lo) || at.After(hi)) {
				t.Fatalf("%s: %s %s is outside [%s, %s]", r, k, v, stamp(lo), stamp(hi))
			}
		}
	}
	return *l.Items
}

// testHostileTimes: a batch whose browser times are absurd cannot make a
// history answer fail to encode, and good events next to it are stored;
// corrected times stay within [receivedAt - 90 days, receivedAt], page
// durations within a year.
func (s *suite) testHostileTimes(t *testing.T) {
	start := time.Now().Add(-time.Minute)
	b := newBrowser()
	userID := "mallory+" + s.run + "@example.com"
	claim := b.event("UserInfo", map[string]any{"userId": userID})
	entered := b.event("PageEntered", nil)
	s.collect(t, b, claim, entered).wantAcked(t, claim, entered)

	// The request of the finding: year 0 sent at year 9999. sentAt is
	// outside any sane clock, so the batch's events are rejected.
	ancient := b.event("Clicked", nil)
	ancient["timestamp"] = "0000-01-01T00:00:00.000Z"
	body := b.body(ancient)
	body["sentAt"] = "9999-12-31T23:59:59.999Z"
	r := s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.want(t, http.StatusOK)
	var a0 collectAnswer
	r.decode(t, &a0)
	// The history must answer first: that is what the request broke.
	lo, hi := start.Add(-maxSkew-maxDuration), time.Now().Add(time.Minute)
	s.wantValidList(t, "/v1/visits/"+b.visitID+"/events?limit=1000", lo, hi)
	if got := a0.rejectedCodes(t)[ancient["eventId"].(string)]; got != "invalid_event" {
		t.Fatalf("year 0 sent at year 9999: rejections %+v, want invalid_event", a0.Ack.Rejected)
	}

	// A timestamp outside sane years is rejected even with a good sentAt;
	// one far in the past or the future is clamped into the window; an
	// unreadable or absurd duration is bounded.
	year0 := b.event("Clicked", nil)
	year0["timestamp"] = "0000-01-01T00:00:00.000Z"
	old := b.event("Clicked", map[string]any{"which": "old"})
	old["timestamp"] = stamp(time.Now().Add(-400 * 24 * time.Hour))
	future := b.event("Clicked", map[string]any{"which": "future"})
	future["timestamp"] = stamp(time.Now().Add(30 * 24 * time.Hour))
	exited := b.event("PageExited", nil)
	exited["data"] = json.RawMessage(`{"durationMs":9e18}`)
	page2 := newID()
	entered2 := b.event("PageEntered", nil)
	entered2["pageId"] = page2
	exited2 := b.event("PageExited", nil)
	exited2["pageId"] = page2
	exited2["data"] = json.RawMessage(`{"durationMs":9000000000000000000}`)
	a := s.collect(t, b, year0, old, future, exited, entered2, exited2)
	hi = time.Now().Add(time.Minute)
	events := s.wantValidList(t, "/v1/visits/"+b.visitID+"/events?limit=1000", lo, hi)
	s.wantValidList(t, "/v1/events?visitId="+b.visitID, lo, hi)
	pages := s.wantValidList(t, "/v1/visits/"+b.visitID+"/pages", lo, hi)
	if got := a.rejectedCodes(t)[year0["eventId"].(string)]; got != "invalid_event" || len(a.Ack.Rejected) != 1 {
		t.Fatalf("year 0 timestamp: rejections %+v, want it alone rejected with invalid_event", a.Ack.Rejected)
	}
	for _, p := range pages {
		if d, _ := p["durationMs"].(float64); d < 0 || d > float64(maxDuration.Milliseconds()) {
			t.Fatalf("page %v: durationMs %v outside [0, one year]", p["pageId"], p["durationMs"])
		}
	}
	var stored []storedEvent
	for _, e := range events {
		j, _ := json.Marshal(e)
		var se storedEvent
		json.Unmarshal(j, &se)
		stored = append(stored, se)
	}
	for _, e := range stored {
		if e.CorrectedAt.After(e.ReceivedAt) || e.CorrectedAt.Before(e.ReceivedAt.Add(-maxSkew)) {
			t.Fatalf("event %s %s: correctedAt %s outside [receivedAt - 90 days, receivedAt %s]",
				e.Name, e.EventID, stamp(e.CorrectedAt), stamp(e.ReceivedAt))
		}
	}
	if n := len(stored); n != 7 {
		t.Fatalf("stored %d events %v, want 7", n, names(stored))
	}

	// The unverified claim links an identity whose lists must encode too.
	var ids list[identity]
	s.getJSON(t, "/v1/identities?userId="+queryEscape(userID), &ids)
	if len(ids.Items) != 1 {
		t.Fatalf("identities of the claim: %+v", ids.Items)
	}
	s.wantValidList(t, "/v1/identities/"+ids.Items[0].IdentityID+"/events", lo, hi)
	s.wantValidList(t, "/v1/identities/"+ids.Items[0].IdentityID+"/visits", lo, hi)

	// A sentAt that is not a time is refused as clearly.
	garbled := b.event("Clicked", nil)
	body = b.body(garbled)
	body["sentAt"] = "soon"
	r = s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.want(t, http.StatusOK)
	a = &collectAnswer{}
	r.decode(t, a)
	if got := a.rejectedCodes(t)[garbled["eventId"].(string)]; got != "invalid_event" {
		t.Fatalf("sentAt \"soon\": rejections %+v, want invalid_event", a.Ack.Rejected)
	}
}

// testIDCase: ids sent in lower case are stored in upper case, so that
// the REST API reads and erases them, and one eventId in two cases is one
// event.
func (s *suite) testIDCase(t *testing.T) {
	b := newBrowser()
	b.visitorID, b.visitID, b.page = strings.ToLower(b.visitorID), strings.ToLower(b.visitID), strings.ToLower(b.page)
	e := b.event("PageEntered", nil)
	id := e["eventId"].(string)
	e["eventId"] = strings.ToLower(id)
	twin := b.event("Clicked", nil)
	twin["eventId"] = id // the same event in upper case
	a := s.collect(t, b, e, twin)
	if len(a.Ack.Rejected) != 0 {
		t.Fatalf("lower-case ids: rejections %+v", a.Ack.Rejected)
	}
	for _, got := range append([]string{a.VisitorID, a.VisitID}, a.Ack.EventIDs...) {
		if got != strings.ToUpper(got) {
			t.Fatalf("answer names id %q in lower case: %+v", got, a)
		}
	}
	visitID, visitorID := strings.ToUpper(b.visitID), strings.ToUpper(b.visitorID)
	if a.VisitID != visitID || a.VisitorID != visitorID {
		t.Fatalf("answer ids %s/%s, want the sent ones upper-cased %s/%s", a.VisitorID, a.VisitID, visitorID, visitID)
	}
	events := s.events(t, visitID)
	if len(events) != 1 || events[0].EventID != id || events[0].PageID != strings.ToUpper(b.page) ||
		events[0].VisitID != visitID || events[0].VisitorID != visitorID {
		t.Fatalf("stored %+v, want one event %s on page %s", events, id, strings.ToUpper(b.page))
	}
	s.getJSON(t, "/v1/pages/"+strings.ToUpper(b.page), new(page))
	var vs list[visit]
	s.getJSON(t, "/v1/visits?visitorId="+visitorID, &vs)
	if len(vs.Items) != 1 {
		t.Fatalf("visits of visitor %s: %v", visitorID, visitIDs(vs.Items))
	}

	// Erased by the id as sent: the API takes either case.
	s.do(t, req{method: "DELETE", path: "/v1/visitors/" + b.visitorID, token: s.AdminToken}).want(t, http.StatusNoContent)
	s.get(t, "/v1/visits/"+visitID).wantProblem(t, http.StatusNotFound)
	s.get(t, "/v1/pages/"+b.page).wantProblem(t, http.StatusNotFound)
}

// testPageOwnership: a page belongs to the visit that first used its
// pageId; another visit naming it is refused, and its neighbours stored.
func (s *suite) testPageOwnership(t *testing.T) {
	owner := newBrowser()
	entered := owner.event("PageEntered", nil)
	s.collect(t, owner, entered).wantAcked(t, entered)

	thief := newBrowser()
	thief.page = owner.page
	steal := thief.event("PageEntered", nil)
	steal["url"], steal["title"] = "https://evil.example/", "Evil"
	exit := thief.event("PageExited", map[string]any{"durationMs": 5})
	mine := newBrowser()
	neighbour := thief.event("Clicked", nil)
	neighbour["pageId"] = mine.page
	a := s.collect(t, thief, steal, exit, neighbour)
	codes := a.rejectedCodes(t)
	if codes[steal["eventId"].(string)] != "invalid_event" || codes[exit["eventId"].(string)] != "invalid_event" || len(codes) != 2 {
		t.Fatalf("another visit's pageId: rejections %+v, want PageEntered and PageExited refused with invalid_event", a.Ack.Rejected)
	}
	for _, r := range a.Ack.Rejected {
		if !strings.Contains(r.Message, "pageId") {
			t.Fatalf("rejection %+v does not say what is wrong", r)
		}
	}
	if !slices.Equal(a.Ack.EventIDs, []string{neighbour["eventId"].(string)}) {
		t.Fatalf("acked %v, want the neighbour alone", a.Ack.EventIDs)
	}
	var p page
	s.getJSON(t, "/v1/pages/"+owner.page, &p)
	if p.VisitID != owner.visitID || p.URL != entered["url"] || p.Title != "Shop" || p.ExitedAt != nil {
		t.Fatalf("page after another visit used its id: %+v, want %s of visit %s, not exited", p, entered["url"], owner.visitID)
	}
	if got := names(s.events(t, thief.visitID)); !slices.Equal(got, []string{"Clicked"}) {
		t.Fatalf("the other visit stored %v, want [Clicked]", got)
	}

	// The owner's own updates still go through.
	ownExit := owner.event("PageExited", map[string]any{"durationMs": 1500})
	s.collect(t, owner, ownExit).wantAcked(t, ownExit)
	s.getJSON(t, "/v1/pages/"+owner.page, &p)
	if p.ExitedAt == nil {
		t.Fatalf("the owner's PageExited did not record the exit: %+v", p)
	}
}

// testEventData: event data must be valid UTF-8 JSON with finite numbers;
// a bad event is rejected alone.
func (s *suite) testEventData(t *testing.T) {
	b := newBrowser()
	good := b.event("Clicked", map[string]any{"ok": true})
	small := b.event("Clicked", nil)
	small["data"] = json.RawMessage(`{"tiny":1e-400,"big":-1.5e300,"s":"1e999999"}`)
	badUTF8, huge, negHuge, longInt := newID(), newID(), newID(), newID()
	raw := func(id, data string) string {
		return `{"eventId":"` + id + `","name":"Clicked","timestamp":"` + stamp(time.Now()) +
			`","pageId":"` + b.page + `","data":` + data + `}`
	}
	goodJSON, _ := json.Marshal(good)
	smallJSON, _ := json.Marshal(small)
	body := `{"visitorId":"` + b.visitorID + `","visitId":"` + b.visitID + `","sentAt":"` + stamp(time.Now()) + `","events":[` +
		strings.Join([]string{
			string(goodJSON),
			raw(badUTF8, "{\"name\":\"\xff\xfe\"}"),
			raw(huge, `{"n":1e999999}`),
			raw(negHuge, `{"n":[-1E400]}`),
			raw(longInt, `{"n":`+strings.Repeat("9", 400)+`}`),
			string(smallJSON),
		}, ",") + `]}`
	r := s.do(t, req{method: "POST", path: "/v1/collect", contentType: "application/json", body: []byte(body),
		header: map[string]string{"Origin": s.Origin}})
	r.want(t, http.StatusOK)
	var a collectAnswer
	r.decode(t, &a)
	codes := a.rejectedCodes(t)
	for _, id := range []string{badUTF8, huge, negHuge, longInt} {
		if codes[id] != "invalid_event" {
			t.Fatalf("event %s: rejections %+v, want invalid_event", id, a.Ack.Rejected)
		}
	}
	if len(codes) != 4 || !sameSet(a.Ack.EventIDs, []string{good["eventId"].(string), small["eventId"].(string)}) {
		t.Fatalf("acked %v rejected %+v, want the two good events acked", a.Ack.EventIDs, a.Ack.Rejected)
	}
	if a.VisitID != "" {
		b.visitID = a.VisitID
	}
	r = s.get(t, "/v1/visits/"+b.visitID+"/events")
	r.want(t, http.StatusOK)
	if !utf8.Valid(r.Body) {
		t.Fatalf("%s: not valid UTF-8", r)
	}
	var l list[storedEvent]
	r.decode(t, &l)
	if len(l.Items) != 2 {
		t.Fatalf("stored %d events, want 2", len(l.Items))
	}
}
