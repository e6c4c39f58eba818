package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// browser is what a tracker keeps in its cookies.
type browser struct {
	visitorID, visitID string
	visitorKey         string // the browser key the collector issued
	recognition        *string
	dataVersion        int64
	page               string // the current pageId
}

func newBrowser() *browser { return &browser{visitorID: newID(), visitID: newID(), page: newID()} }

// nextVisit forgets the visit, as when _vt_visit expired.
func (b *browser) nextVisit() { b.visitID, b.page = newID(), newID() }

// event makes an event of the current page.
func (b *browser) event(name string, data any) map[string]any {
	e := map[string]any{
		"eventId": newID(), "name": name, "timestamp": stamp(time.Now()),
		"pageId": b.page, "url": "https://shop.example/p/" + b.page, "title": "Shop",
	}
	if data != nil {
		e["data"] = data
	}
	return e
}

// collectAnswer is the body of a /v1/collect answer.
type collectAnswer struct {
	VisitorID  string `json:"visitorId"`
	VisitorKey string `json:"visitorKey"`
	VisitID    string `json:"visitId"`
	Ack        struct {
		EventIDs []string `json:"eventIds"`
		Rejected []struct {
			EventID string `json:"eventId"`
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"rejected"`
	} `json:"ack"`
	Identity    *identityAnswer `json:"identity"`
	VisitorData *struct {
		Version int64           `json:"version"`
		Data    json.RawMessage `json:"data"`
	} `json:"visitorData"`
	raw string // the body as sent
}

// identityAnswer is the identity part of a /v1/collect answer.
type identityAnswer struct {
	State       string  `json:"state"`
	IdentityID  *string `json:"identityId"`
	Verified    bool    `json:"verified"`
	Recognition *string `json:"recognition"`
}

func (a *identityAnswer) String() string {
	if a == nil {
		return "<none>"
	}
	str := func(p *string) string {
		if p == nil {
			return "null"
		}
		return fmt.Sprintf("%.24q", *p)
	}
	return fmt.Sprintf("{state %s, identityId %s, verified %v, recognition %s}", a.State, str(a.IdentityID), a.Verified, str(a.Recognition))
}

// body is the /v1/collect request for events.
func (b *browser) body(events ...map[string]any) map[string]any {
	if events == nil {
		events = []map[string]any{}
	}
	return map[string]any{
		"visitorId": b.visitorID, "visitorKey": b.visitorKey, "visitId": b.visitID, "recognition": b.recognition,
		"visitorDataVersion": b.dataVersion, "sentAt": stamp(time.Now()), "events": events,
	}
}

// collect posts events as a tracker on an allowed origin does, requires a
// 200 answer, and keeps what the collector settled (ids, recognition).
func (s *suite) collect(t *testing.T, b *browser, events ...map[string]any) *collectAnswer {
	t.Helper()
	r := s.do(t, req{method: "POST", path: "/v1/collect", body: b.body(events...), header: map[string]string{"Origin": s.Origin}})
	r.want(t, http.StatusOK)
	var a collectAnswer
	r.decode(t, &a)
	a.raw = string(r.Body)
	if a.VisitorID != "" {
		b.visitorID = a.VisitorID
	}
	if a.VisitorKey != "" {
		b.visitorKey = a.VisitorKey
	}
	if a.VisitID != "" {
		b.visitID = a.VisitID
	}
	if a.Identity != nil {
		b.recognition = a.Identity.Recognition
	}
	if a.VisitorData != nil {
		b.dataVersion = a.VisitorData.Version
	}
	return &a
}

// wantAcked fails unless exactly these events were acknowledged, and none
// rejected.
func (a *collectAnswer) wantAcked(t *testing.T, events ...map[string]any) {
	t.Helper()
	if len(a.Ack.Rejected) > 0 {
		t.Fatalf("ack rejected %+v, want none", a.Ack.Rejected)
	}
	var want []string
	for _, e := range events {
		want = append(want, e["eventId"].(string))
	}
	if !sameSet(a.Ack.EventIDs, want) {
		t.Fatalf("ack eventIds %v, want %v", a.Ack.EventIDs, want)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// storedEvent is an event as the History API returns it.
type storedEvent struct {
	EventID     string          `json:"eventId"`
	VisitID     string          `json:"visitId"`
	VisitorID   string          `json:"visitorId"`
	SessionID   string          `json:"sessionId"`
	IdentityID  *string         `json:"identityId"`
	PageID      string          `json:"pageId"`
	Name        string          `json:"name"`
	Category    string          `json:"category"`
	Timestamp   time.Time       `json:"timestamp"`
	CorrectedAt time.Time       `json:"correctedAt"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	URL         string          `json:"url"`
	Data        json.RawMessage `json:"data"`
}

type visit struct {
	VisitID    string     `json:"visitId"`
	VisitorID  string     `json:"visitorId"`
	IdentityID *string    `json:"identityId"`
	SessionID  string     `json:"sessionId"`
	State      string     `json:"state"`
	Verified   bool       `json:"verified"`
	StartedAt  time.Time  `json:"startedAt"`
	LastSeenAt time.Time  `json:"lastSeenAt"`
	EndedAt    *time.Time `json:"endedAt"`
	LandingURL string     `json:"landingUrl"`
	Referrer   string     `json:"referrer"`
	UserAgent  string     `json:"userAgent"`
	PageCount  int        `json:"pageCount"`
	EventCount int        `json:"eventCount"`
}

type page struct {
	PageID    string     `json:"pageId"`
	VisitID   string     `json:"visitId"`
	URL       string     `json:"url"`
	Title     string     `json:"title"`
	EnteredAt time.Time  `json:"enteredAt"`
	ExitedAt  *time.Time `json:"exitedAt"`
}

type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// events returns a visit's stored events, in order.
func (s *suite) events(t *testing.T, visitID string) []storedEvent {
	t.Helper()
	var l list[storedEvent]
	s.getJSON(t, "/v1/visits/"+visitID+"/events?limit=1000", &l)
	return l.Items
}

func names(events []storedEvent) []string {
	var n []string
	for _, e := range events {
		n = append(n, e.Name)
	}
	return n
}

func (s *suite) testCollect(t *testing.T) {
	b := newBrowser()
	start := b.event("VisitStarted", map[string]any{"language": "en", "screen": "1920x1080"})
	start["referrer"] = "https://search.example/?q=shoes"
	entered := b.event("PageEntered", nil)
	cart := b.event("AddToCart", map[string]any{"sku": "A-1", "qty": 2})
	a := s.collect(t, b, start, entered, cart)
	a.wantAcked(t, start, entered, cart)
	if a.VisitID == "" || a.VisitorID == "" {
		t.Fatalf("answer without visitorId/visitId: %+v", a)
	}

	var v visit
	s.getJSON(t, "/v1/visits/"+b.visitID, &v)
	if v.VisitID != b.visitID || v.VisitorID != b.visitorID {
		t.Fatalf("visit %+v, want visitId %s visitorId %s", v, b.visitID, b.visitorID)
	}
	if v.State != "anonymous" || v.Verified || v.IdentityID != nil {
		t.Fatalf("visit state %q verified %v identity %v, want anonymous", v.State, v.Verified, v.IdentityID)
	}
	if v.EventCount != 3 || v.PageCount != 1 {
		t.Fatalf("visit has %d events and %d pages, want 3 and 1", v.EventCount, v.PageCount)
	}
	if v.LandingURL != start["url"] {
		t.Fatalf("landingUrl %q, want %q", v.LandingURL, start["url"])
	}

	got := s.events(t, b.visitID)
	if want := []string{"VisitStarted", "PageEntered", "AddToCart"}; !slices.Equal(names(got), want) {
		t.Fatalf("stored events %v, want %v", names(got), want)
	}
	for _, e := range got {
		if e.VisitID != b.visitID || e.VisitorID != b.visitorID || e.SessionID != v.SessionID {
			t.Fatalf("event %+v: ids do not match the visit %+v", e, v)
		}
		if e.ReceivedAt.IsZero() || e.CorrectedAt.IsZero() || e.Timestamp.IsZero() {
			t.Fatalf("event %+v: missing times", e)
		}
	}
	if got[0].Category != "system" || got[2].Category != "business" {
		t.Fatalf("categories %q, %q; want system, business", got[0].Category, got[2].Category)
	}
	var data map[string]any
	if err := json.Unmarshal(got[2].Data, &data); err != nil || data["sku"] != "A-1" || data["qty"] != 2.0 {
		t.Fatalf("AddToCart data %s, want the sent data", got[2].Data)
	}

	var pages list[page]
	s.getJSON(t, "/v1/visits/"+b.visitID+"/pages", &pages)
	if len(pages.Items) != 1 || pages.Items[0].PageID != b.page || pages.Items[0].URL != entered["url"] {
		t.Fatalf("pages %+v, want the one entered page %s", pages.Items, b.page)
	}
	var p page
	s.getJSON(t, "/v1/pages/"+b.page, &p)
	if p.PageID != b.page || p.VisitID != b.visitID || p.Title != "Shop" {
		t.Fatalf("page %+v", p)
	}

	// PageExited closes the page.
	exited := b.event("PageExited", map[string]any{"timeOnPageMs": 1500})
	s.collect(t, b, exited).wantAcked(t, exited)
	s.getJSON(t, "/v1/pages/"+b.page, &p)
	if p.ExitedAt == nil {
		t.Fatalf("page %+v: no exitedAt after PageExited", p)
	}

	// A skewed browser clock: the event is an hour "early" by the browser's
	// clock and so was sentAt; the corrected time is near the collector's.
	skewed := b.event("Skewed", nil)
	early := time.Now().Add(-time.Hour)
	skewed["timestamp"] = stamp(early)
	body := b.body(skewed)
	body["sentAt"] = stamp(early)
	r := s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.want(t, http.StatusOK)
	for _, e := range s.events(t, b.visitID) {
		if e.EventID != skewed["eventId"] {
			continue
		}
		if d := e.CorrectedAt.Sub(e.Timestamp); d < 59*time.Minute || d > 61*time.Minute {
			t.Fatalf("skewed event: correctedAt %v - timestamp %v = %v, want about an hour", e.CorrectedAt, e.Timestamp, d)
		}
		return
	}
	t.Fatal("the skewed event was not stored")
}

// testCollectContentTypes: sendBeacon sends text/plain; anything but JSON
// and text/plain is 415.
func (s *suite) testCollectContentTypes(t *testing.T) {
	b := newBrowser()
	e := b.event("PageEntered", nil)
	body, _ := json.Marshal(b.body(e))
	for _, ct := range []string{"text/plain;charset=UTF-8", "application/json; charset=utf-8"} {
		e := b.event("Beacon", nil)
		body, _ := json.Marshal(b.body(e))
		r := s.do(t, req{method: "POST", path: "/v1/collect", contentType: ct, body: body, header: map[string]string{"Origin": s.Origin}})
		r.want(t, http.StatusOK)
		var a collectAnswer
		r.decode(t, &a)
		a.wantAcked(t, e)
		b.visitorKey = a.VisitorKey // as the tracker keeps it
	}
	for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", ""} {
		r := s.do(t, req{method: "POST", path: "/v1/collect", contentType: ct, body: body, header: map[string]string{"Origin": s.Origin}})
		r.wantProblem(t, http.StatusUnsupportedMediaType)
	}
	if n := len(s.events(t, b.visitID)); n != 2 {
		t.Fatalf("%d events stored, want the 2 beacons only", n)
	}
}

// testCORS: browsers on allowed origins may post; others may not.
func (s *suite) testCORS(t *testing.T) {
	pre := s.do(t, req{method: "OPTIONS", path: "/v1/collect", header: map[string]string{
		"Origin": s.Origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}})
	if pre.Status != http.StatusNoContent && pre.Status != http.StatusOK {
		t.Fatalf("%s: preflight from an allowed origin: status %d", pre, pre.Status)
	}
	if got := pre.Header.Get("Access-Control-Allow-Origin"); got != s.Origin {
		t.Fatalf("preflight: Access-Control-Allow-Origin %q, want %q", got, s.Origin)
	}
	if m := pre.Header.Get("Access-Control-Allow-Methods"); !strings.Contains(m, "POST") {
		t.Fatalf("preflight: Access-Control-Allow-Methods %q, want POST", m)
	}
	if h := strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")); !strings.Contains(h, "content-type") {
		t.Fatalf("preflight: Access-Control-Allow-Headers %q, want content-type", h)
	}

	b := newBrowser()
	e := b.event("PageEntered", nil)
	r := s.do(t, req{method: "POST", path: "/v1/collect", body: b.body(e), header: map[string]string{"Origin": s.Origin}})
	r.want(t, http.StatusOK)
	if got := r.Header.Get("Access-Control-Allow-Origin"); got != s.Origin {
		t.Fatalf("POST: Access-Control-Allow-Origin %q, want %q", got, s.Origin)
	}

	// A foreign page: no CORS grant, and (text/plain needs no preflight,
	// so the check must be the collector's own) nothing stored.
	const foreign = "https://evil.example"
	pre = s.do(t, req{method: "OPTIONS", path: "/v1/collect", header: map[string]string{
		"Origin": foreign, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}})
	if got := pre.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Fatalf("preflight from a foreign origin: Access-Control-Allow-Origin %q, want none", got)
	}
	f := newBrowser()
	fe := f.event("PageEntered", nil)
	r = s.do(t, req{method: "POST", path: "/v1/collect", contentType: "text/plain", body: f.body(fe), header: map[string]string{"Origin": foreign}})
	r.wantProblem(t, http.StatusForbidden)
	s.get(t, "/v1/visits/"+f.visitID).wantProblem(t, http.StatusNotFound)
}

// testDedup: the tracker resends unacknowledged events; each is stored once
// and acknowledged again.
func (s *suite) testDedup(t *testing.T) {
	b := newBrowser()
	e1, e2 := b.event("PageEntered", nil), b.event("Clicked", map[string]any{"n": 1})
	s.collect(t, b, e1, e2).wantAcked(t, e1, e2)
	e3 := b.event("Clicked", map[string]any{"n": 2})
	s.collect(t, b, e1, e2, e3).wantAcked(t, e1, e2, e3)
	s.collect(t, b, e3).wantAcked(t, e3)
	got := s.events(t, b.visitID)
	if want := []string{"PageEntered", "Clicked", "Clicked"}; !slices.Equal(names(got), want) {
		t.Fatalf("after resends, stored %v, want %v", names(got), want)
	}
	var v visit
	s.getJSON(t, "/v1/visits/"+b.visitID, &v)
	if v.EventCount != 3 {
		t.Fatalf("eventCount %d after resends, want 3", v.EventCount)
	}
}

// testBadEvents: an event that breaks a per-event rule is rejected alone in
// the ack; its neighbours are stored.
func (s *suite) testBadEvents(t *testing.T) {
	b := newBrowser()
	good1 := b.event("PageEntered", nil)
	noName := b.event("", nil)
	badID := b.event("Clicked", nil)
	badID["eventId"] = "not-a-ulid"
	deep := b.event("Deep", nested(20))
	big := b.event("Big", map[string]any{"blob": strings.Repeat("x", 17<<10)})
	badTime := b.event("Clicked", nil)
	badTime["timestamp"] = "yesterday"
	ended := b.event("VisitEnded", nil)
	sqlish := b.event("Search", map[string]any{"q": "'; DROP TABLE events; --"})
	good2 := b.event("Clicked", map[string]any{"ok": true})

	a := s.collect(t, b, good1, noName, badID, deep, big, badTime, ended, sqlish, good2)
	if want := []string{good1["eventId"].(string), sqlish["eventId"].(string), good2["eventId"].(string)}; !sameSet(a.Ack.EventIDs, want) {
		t.Fatalf("acked %v, want %v", a.Ack.EventIDs, want)
	}
	rejected := map[string]string{}
	for _, r := range a.Ack.Rejected {
		if r.Code == "" || r.Message == "" {
			t.Fatalf("rejection %+v without code or message", r)
		}
		rejected[r.EventID] = r.Code
	}
	for _, e := range []map[string]any{noName, badID, deep, big, badTime, ended} {
		if _, ok := rejected[e["eventId"].(string)]; !ok {
			t.Fatalf("event %q (%s) not rejected: rejections %+v", e["name"], e["eventId"], a.Ack.Rejected)
		}
	}
	if len(a.Ack.Rejected) != 6 {
		t.Fatalf("%d rejections, want 6: %+v", len(a.Ack.Rejected), a.Ack.Rejected)
	}
	if got := rejected[deep["eventId"].(string)]; got != "too_deep" {
		t.Fatalf("too deep event: code %q, want too_deep", got)
	}
	if got := rejected[big["eventId"].(string)]; got != "too_large" {
		t.Fatalf("too large event: code %q, want too_large", got)
	}
	got := s.events(t, b.visitID)
	if want := []string{"PageEntered", "Search", "Clicked"}; !slices.Equal(names(got), want) {
		t.Fatalf("stored %v, want %v", names(got), want)
	}
	var q map[string]string
	if err := json.Unmarshal(got[1].Data, &q); err != nil || q["q"] != "'; DROP TABLE events; --" {
		t.Fatalf("SQL-looking data stored as %s, want it verbatim", got[1].Data)
	}
}

// nested returns data nested depth levels deep.
func nested(depth int) any {
	var v any = "leaf"
	for range depth {
		v = map[string]any{"a": v}
	}
	return v
}

// testBadBatches: a request that breaks a batch rule is refused whole with
// problem details, and nothing of it is stored.
func (s *suite) testBadBatches(t *testing.T) {
	post := func(body any) *response {
		return s.do(t, req{method: "POST", path: "/v1/collect", contentType: "application/json", body: body, header: map[string]string{"Origin": s.Origin}})
	}
	post(`{"visitorId": "01J`).wantProblem(t, http.StatusBadRequest)
	post(`[1,2,3]`).wantProblem(t, http.StatusBadRequest)
	post(`{"events": "many"}`).wantProblem(t, http.StatusBadRequest)

	b := newBrowser()
	var many []map[string]any
	for range 501 {
		many = append(many, b.event("Clicked", nil))
	}
	if r := post(b.body(many...)); r.Status != http.StatusRequestEntityTooLarge && r.Status != http.StatusBadRequest {
		t.Fatalf("%s: 501 events: status %d, want 413 or 400", r, r.Status)
	} else {
		r.wantProblem(t, r.Status)
	}
	huge := b.body(b.event("Clicked", map[string]any{"pad": strings.Repeat("y", 1<<20)}))
	post(huge).wantProblem(t, http.StatusRequestEntityTooLarge)
	s.get(t, "/v1/visits/"+b.visitID).wantProblem(t, http.StatusNotFound)

	// GET is not a way to collect.
	if r := s.do(t, req{method: "GET", path: "/v1/collect"}); r.Status != http.StatusMethodNotAllowed {
		t.Fatalf("%s: status %d, want 405", r, r.Status)
	}
}
