package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/cookie"
)

func TestFirstPageStartsVisitAndDelivers(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})

	vid, visit := e.cookie(cookie.Visitor), e.cookie(cookie.Visit)
	if !protocol.IsULID(vid) || !strings.HasPrefix(visit, a.visitID+".") {
		t.Fatalf("cookies vid=%q visit=%q", vid, visit)
	}
	for _, s := range e.sets {
		if !strings.Contains(s, "; Path=/;") || !strings.Contains(s, "SameSite=Lax") || !strings.Contains(s, "; Secure") {
			t.Errorf("cookie attributes: %s", s)
		}
	}
	if !strings.Contains(e.sets[0], "Max-Age=63072000") || !strings.Contains(e.sets[1], "Max-Age=1800") {
		t.Errorf("lifetimes: %v", e.sets)
	}
	s := e.lastSocket()
	if s.url != "wss://collector.example/v1/ws?cookies=auto&cookieDomain=" {
		t.Fatalf("dialled %s", s.url)
	}
	// Nothing before the welcome.
	e.Advance(10)
	if len(s.sent) != 0 {
		t.Fatalf("sent before open: %v", s.sent)
	}
	// The collector settles on another visit id (the old one ended there).
	newVisit := "01KA0000000000000000000000"
	hello := welcome(t, e, protocol.Welcome{VisitID: newVisit})
	if hello.VisitorID != vid || hello.Recognition != nil || hello.URL != e.page.URL || hello.Tracker == "" {
		t.Fatalf("hello %+v", hello)
	}
	if a.IDs().VisitID != newVisit || !strings.HasPrefix(e.cookie(cookie.Visit), newVisit+".") {
		t.Fatalf("visit id not adopted: %+v cookie %s", a.IDs(), e.cookie(cookie.Visit))
	}
	evs := sentEvents(t, s)
	if names(evs) != "VisitStarted,PageEntered" {
		t.Fatalf("events %s", names(evs))
	}
	if evs[0].URL != e.page.URL || evs[0].Referrer != e.page.Referrer || !strings.Contains(string(evs[0].Data), `"timeZone":"Europe/Paris"`) {
		t.Fatalf("VisitStarted %+v %s", evs[0], evs[0].Data)
	}
	if evs[1].PageID != a.pageID || evs[1].Title != "Shop" || evs[1].Timestamp != "2026-11-21T10:00:00.000Z" {
		t.Fatalf("PageEntered %+v", evs[1])
	}
	for _, ev := range evs {
		if verr := protocol.ValidateEvent(&ev); verr != nil {
			t.Fatal(verr)
		}
	}
	if len(e.storage) != 1 {
		t.Fatalf("outbox not stored: %v", e.storage)
	}
	ack(s, evs)
	if a.ob.Len() != 0 || len(e.storage) != 0 {
		t.Fatalf("after ack: %d queued, storage %v", a.ob.Len(), e.storage)
	}
}

func TestNextPageContinuesVisitAndPresentsToken(t *testing.T) {
	e := newEnv(t)
	a1 := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	ack(e.lastSocket(), sentEvents(t, e.lastSocket()))
	e.putCookie(cookie.User, "tok", 1e9)
	e.Advance(60_000)

	a2 := start(t, e, ConfigPatch{})
	if a2.visitID != a1.visitID || a2.visitorID != a1.visitorID || a2.pageID == a1.pageID {
		t.Fatalf("page 2 ids %+v vs %+v", a2.IDs(), a1.IDs())
	}
	hello := welcome(t, e, protocol.Welcome{State: protocol.StateRecognized, IdentityID: ptr("01KA0000000000000000000001"), Verified: true, Recognition: ptr("tok")})
	if hello.Recognition == nil || *hello.Recognition != "tok" {
		t.Fatalf("hello recognition %v", hello.Recognition)
	}
	if got := names(sentEvents(t, e.lastSocket())); got != "PageEntered" {
		t.Fatalf("page 2 events %s", got)
	}
	ids := a2.IDs()
	if ids.State != protocol.StateRecognized || !ids.Verified || ids.IdentityID == "" || e.cookie(cookie.User) != "tok" {
		t.Fatalf("ids %+v", ids)
	}

	// A third page whose token the collector no longer accepts.
	start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{Recognition: nil})
	if e.cookie(cookie.User) != "" {
		t.Fatal("an invalid token's cookie was kept")
	}
}

// With autoRecognize off the token goes only as the proof of the visit's
// identity ("recognize": false): the collector never recognizes with it,
// and a verified visit continues across pages.
func TestAutoRecognizeOffPresentsTokenAsProofOnly(t *testing.T) {
	e := newEnv(t)
	e.putCookie(cookie.User, "tok", 1e9)
	start(t, e, ConfigPatch{AutoRecognize: ptr(false)})
	tok := "tok" // the collector answers with the token it was shown
	if hello := welcome(t, e, protocol.Welcome{Recognition: &tok}); hello.Recognition == nil || *hello.Recognition != "tok" || hello.Recognize == nil || *hello.Recognize {
		t.Fatalf("hello with autoRecognize off: %+v; want the token with recognize false", hello)
	}
	if e.cookie(cookie.User) != "tok" {
		t.Fatal("a token we did not present was deleted")
	}
}

func TestVisitTimeoutStartsNewVisit(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{VisitTimeoutMinutes: ptr(1.0)})
	welcome(t, e, protocol.Welcome{})
	old := a.visitID
	e.Advance(59_000)
	a.Push(Command{Op: OpEvent, Name: "Click", Data: `{"n":1}`})
	if a.visitID != old {
		t.Fatal("visit ended before its timeout")
	}
	e.Advance(61_000)
	s := e.lastSocket()
	a.Push(Command{Op: OpEvent, Name: "Click", Data: `{"n":2}`})
	if a.visitID == old || !s.closed {
		t.Fatalf("no new visit after the timeout (closed %v)", s.closed)
	}
	hello := welcome(t, e, protocol.Welcome{})
	if hello.VisitID != a.visitID {
		t.Fatalf("hello visit %s, want %s", hello.VisitID, a.visitID)
	}
	if got := names(sentEvents(t, e.lastSocket())); got != "VisitStarted,PageEntered,Click" {
		t.Fatalf("new visit events %s", got)
	}
}

func TestSignInAndSignOut(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	s := e.lastSocket()
	r := &recorder{}
	a.Push(Command{Op: OpEvent, Name: "SignIn", Data: `{"userId":"ann@example.com"}`, Reply: r})
	e.Advance(0)
	evs := sentEvents(t, s)
	if evs[len(evs)-1].Name != "SignIn" || string(evs[len(evs)-1].Data) != `{"userId":"ann@example.com"}` {
		t.Fatalf("SignIn %+v", evs[len(evs)-1])
	}
	// The collector acks before it sends the identity: the reply waits for
	// the new state.
	ack(s, evs)
	if len(r.resolved) != 0 {
		t.Fatal("SignIn resolved before its identity frame")
	}
	s.ev.Message(&Message{Type: protocol.TypeIdentity, Identity: protocol.Identity{State: protocol.StateAuthenticated,
		IdentityID: ptr("01KA0000000000000000000002"), Verified: true, Recognition: ptr("signed.token")}})
	if e.cookie(cookie.User) != "signed.token" {
		t.Fatalf("token cookie %q", e.cookie(cookie.User))
	}
	if len(r.resolved) != 1 || r.resolved[0].(IDs).State != protocol.StateAuthenticated {
		t.Fatalf("SignIn reply %+v", r)
	}
	last := e.sets[len(e.sets)-1]
	if !strings.HasPrefix(last, "_vt_uid=") || !strings.Contains(last, "Max-Age=31536000") {
		t.Fatalf("token cookie set as %s", last)
	}

	out := &recorder{}
	a.Push(Command{Op: OpEvent, Name: "SignOut", Data: "{}", Reply: out})
	if e.cookie(cookie.User) != "" {
		t.Fatal("SignOut kept the token cookie")
	}
	e.Advance(0)
	evs = sentEvents(t, s)
	ack(s, evs[len(evs)-1:])
	e.Advance(999)
	if len(out.resolved) != 0 {
		t.Fatal("SignOut resolved before its identity frame or the wait")
	}
	e.Advance(1) // no identity frame came: resolve anyway
	if len(out.resolved) != 1 {
		t.Fatal("SignOut never resolved")
	}
	s.ev.Message(&Message{Type: protocol.TypeIdentity, Identity: protocol.Identity{State: protocol.StateAnonymous}})
	if ids := a.IDs(); ids.State != protocol.StateAnonymous || ids.IdentityID != "" || ids.Verified {
		t.Fatalf("after SignOut %+v", ids)
	}
}

func TestRejectedEventsAreDropped(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	r := &recorder{}
	a.Push(Command{Op: OpEvent, Name: "Bad", Data: "{}", Reply: r})
	e.Advance(0)
	evs := sentEvents(t, e.lastSocket())
	bad := evs[len(evs)-1].EventID
	e.lastSocket().ev.Message(&Message{Type: protocol.TypeAck, Ack: protocol.Ack{Rejected: []protocol.Rejection{{EventID: bad, Code: "invalid_event", Message: "no"}}}})
	if a.ob.Has(bad) || len(r.rejected) != 1 || r.rejected[0] != "invalid_event" {
		t.Fatalf("rejection: queued %v, reply %+v", a.ob.Has(bad), r)
	}
	// An event over 16 KiB never leaves the browser.
	big := &recorder{}
	a.Push(Command{Op: OpEvent, Name: "Big", Data: `{"x":"` + strings.Repeat("x", protocol.MaxEventBytes) + `"}`, Reply: big})
	if len(big.rejected) != 1 || big.rejected[0] != protocol.CodeTooLarge {
		t.Fatalf("big event %+v", big)
	}
}

func TestOutboxResentOnNextPage(t *testing.T) {
	e := newEnv(t)
	a1 := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	a1.Push(Command{Op: OpEvent, Name: "AddToCart", Data: `{"sku":"A1"}`})
	e.Advance(0)
	first := sentEvents(t, e.lastSocket())
	// The tab closes before any ack.
	e.Advance(5000)
	start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	again := sentEvents(t, e.lastSocket())
	got := map[string]bool{}
	for _, ev := range again {
		got[ev.EventID] = true
	}
	for _, ev := range first {
		if !got[ev.EventID] {
			t.Fatalf("%s %s not resent on the next page: %s", ev.Name, ev.EventID, names(again))
		}
	}
	ack(e.lastSocket(), again)
	if len(e.storage) != 0 {
		t.Fatalf("storage after ack: %v", e.storage)
	}
}

func TestReconnectBackoffAndHTTPFallback(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	s := e.lastSocket()
	ack(s, sentEvents(t, s))

	// The collector goes away.
	s.ev.Close(1001)
	a.Push(Command{Op: OpEvent, Name: "WhileDown", Data: "{}"})
	e.Advance(0)
	if len(e.posts) != 1 || !strings.Contains(e.posts[0].body, "WhileDown") || e.posts[0].url != "https://collector.example/v1/collect" {
		t.Fatalf("auto transport did not fall back to HTTP: %+v", e.posts)
	}
	e.posts[0].done(nil, errNetwork)
	dials := len(e.socks)
	e.Advance(500) // first reconnect within [250, 500] ms
	if len(e.socks) != dials+1 {
		t.Fatalf("no reconnect after 500 ms (%d sockets)", len(e.socks))
	}
	e.lastSocket().ev.Close(1006)
	e.Advance(499) // second attempt waits at least 500 ms
	if len(e.socks) != dials+1 {
		t.Fatal("reconnected without backing off")
	}
	e.Advance(501)
	if len(e.socks) != dials+2 {
		t.Fatal("no second reconnect")
	}
	welcome(t, e, protocol.Welcome{})
	evs := sentEvents(t, e.lastSocket())
	if names(evs) != "WhileDown" {
		t.Fatalf("after reconnect sent %s", names(evs))
	}
	if a.bo.Attempts() != 0 {
		t.Fatal("backoff not reset by the welcome")
	}
	if a.Stats().Transport != TransportWebSocket {
		t.Fatalf("transport %q", a.Stats().Transport)
	}
}

func TestHTTPTransport(t *testing.T) {
	e := newEnv(t)
	e.putCookie(cookie.User, "tok", 1e9)
	a := start(t, e, ConfigPatch{Transport: ptr("http")})
	e.Advance(0)
	if len(e.socks) != 0 || len(e.posts) != 1 {
		t.Fatalf("%d sockets, %d posts", len(e.socks), len(e.posts))
	}
	var req protocol.CollectRequest
	decode(t, e.posts[0].body, &req)
	if req.VisitorID != a.visitorID || req.Recognition == nil || *req.Recognition != "tok" || names(req.Events) != "VisitStarted,PageEntered" || req.SentAt == "" {
		t.Fatalf("request %+v", req)
	}
	a.Push(Command{Op: OpEvent, Name: "Later", Data: "{}"})
	e.Advance(0)
	if len(e.posts) != 1 {
		t.Fatal("a second request while the first is in flight")
	}
	settled := "01KA0000000000000000000003"
	e.posts[0].done(&protocol.CollectResponse{VisitorID: req.VisitorID, VisitID: settled,
		Ack:      protocol.Ack{EventIDs: []string{req.Events[0].EventID, req.Events[1].EventID}},
		Identity: &protocol.Identity{State: protocol.StateRecognized, IdentityID: ptr("01KA0000000000000000000004"), Verified: true, Recognition: ptr("tok")}}, nil)
	if a.visitID != settled || a.IDs().State != protocol.StateRecognized {
		t.Fatalf("response not applied: %+v", a.IDs())
	}
	e.Advance(0)
	decode(t, e.posts[1].body, &req)
	if req.VisitID != settled || names(req.Events) != "Later" {
		t.Fatalf("second request %+v", req)
	}
	r := &recorder{}
	a.Push(Command{Op: OpUpdate, Namespace: "prefs", Value: "{}", Reply: r})
	if len(r.rejected) != 1 || r.rejected[0] != CodeWebSocketRequired {
		t.Fatalf("update over HTTP: %+v", r)
	}
}

func TestConsentRequired(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{RequireConsent: ptr(true)})
	a.Push(Command{Op: OpEvent, Name: "Early", Data: "{}"})
	early := e.now
	e.Advance(3000)
	if len(e.sets) != 0 || len(e.storage) != 0 || len(e.socks) != 0 || len(e.posts) != 0 {
		t.Fatalf("before consent: cookies %v storage %v sockets %d posts %d", e.sets, e.storage, len(e.socks), len(e.posts))
	}
	a.Push(Command{Op: OpConsent, Consent: true})
	if e.cookie(cookie.Visitor) == "" {
		t.Fatal("no cookie after consent")
	}
	welcome(t, e, protocol.Welcome{})
	evs := sentEvents(t, e.lastSocket())
	// The grant is recorded in the visit, after what waited for it.
	if names(evs) != "VisitStarted,PageEntered,Early,ConsentChanged" || string(evs[3].Data) != `{"state":"granted","source":"api"}` {
		t.Fatalf("after consent %s %s", names(evs), evs[len(evs)-1].Data)
	}
	if evs[2].Timestamp != "2026-11-21T10:00:00.000Z" || early != 1795255200000 {
		t.Fatalf("buffered event lost its time: %s", evs[2].Timestamp)
	}

	r := &recorder{}
	a.Push(Command{Op: OpEvent, Name: "Pending", Data: "{}", Reply: r})
	a.Push(Command{Op: OpConsent, Consent: false})
	if e.cookie(cookie.Visitor) != "" || e.cookie(cookie.Visit) != "" || len(e.storage) != 0 || !e.lastSocket().closed {
		t.Fatalf("refusal kept cookies %v storage %v", e.jar.live(e.now), e.storage)
	}
	if len(r.rejected) != 1 || r.rejected[0] != CodeConsentRefused || a.ob.Len() != 0 {
		t.Fatalf("pending event after refusal: %+v, %d queued", r, a.ob.Len())
	}
	a.Push(Command{Op: OpEvent, Name: "Refused", Data: "{}"})
	if a.ob.Len() != 0 || len(e.jar.live(e.now)) != 0 {
		t.Fatal("an event was kept after refusal")
	}
	old := a.visitorID
	a.Push(Command{Op: OpConsent, Consent: true})
	if e.cookie(cookie.Visitor) == "" || e.cookie(cookie.Visitor) == old {
		t.Fatalf("consent again: visitor %q (old %q)", e.cookie(cookie.Visitor), old)
	}
	welcome(t, e, protocol.Welcome{})
	if got := names(sentEvents(t, e.lastSocket())); got != "VisitStarted,PageEntered,ConsentChanged" {
		t.Fatalf("after consent again %s", got)
	}
}

func TestRespectGPC(t *testing.T) {
	e := newEnv(t)
	e.page.GPC = true
	e.putCookie(cookie.Visitor, "01KA0000000000000000000005", 1e9)
	a := start(t, e, ConfigPatch{RespectGPC: ptr(true)})
	e.Advance(100)
	if len(e.socks) != 0 || len(e.sets) != 0 {
		t.Fatal("GPC visitor tracked")
	}
	// The visitor's explicit consent overrides the general signal.
	a.Push(Command{Op: OpConsent, Consent: true})
	if len(e.socks) != 1 {
		t.Fatal("explicit consent did not start tracking")
	}
	// respectGPC is the default; respectGPC: false ignores GPC.
	e2 := newEnv(t)
	e2.page.GPC = true
	start(t, e2, ConfigPatch{})
	if len(e2.socks) != 0 || len(e2.sets) != 0 {
		t.Fatal("GPC not honoured by default")
	}
	e3 := newEnv(t)
	e3.page.GPC = true
	start(t, e3, ConfigPatch{RespectGPC: ptr(false)})
	if len(e3.socks) != 1 {
		t.Fatal("GPC honoured with respectGPC: false")
	}
}

func TestPageHideSendsBeacon(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	e.Advance(12_345)
	a.PageHide()
	a.PageHide() // hidden, then pagehide: one PageExited
	if len(e.beacons) != 1 {
		t.Fatalf("%d beacons", len(e.beacons))
	}
	var req protocol.CollectRequest
	decode(t, e.beacons[0], &req)
	// Unacknowledged events go too: the page may be gone before an ack.
	if names(req.Events) != "VisitStarted,PageEntered,PageExited" || req.VisitID != a.visitID {
		t.Fatalf("beacon %+v", req)
	}
	ex := req.Events[2]
	if ex.PageID != a.pageID || string(ex.Data) != `{"durationMs":12345}` {
		t.Fatalf("PageExited %+v %s", ex, ex.Data)
	}
}

func TestSinglePageAppNavigation(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	first := a.pageID
	e.Advance(2000)
	r := &recorder{}
	a.Push(Command{Op: OpPage, URL: "https://shop.example/cart", Title: "Cart", Reply: r})
	e.Advance(0)
	evs := sentEvents(t, e.lastSocket())
	if names(evs) != "VisitStarted,PageEntered,PageExited,PageEntered" {
		t.Fatalf("events %s", names(evs))
	}
	ex, en := evs[2], evs[3]
	if ex.PageID != first || string(ex.Data) != `{"durationMs":2000}` || en.PageID == first || en.URL != "https://shop.example/cart" || en.Title != "Cart" || en.Referrer != "https://shop.example/" {
		t.Fatalf("exit %+v enter %+v", ex, en)
	}
	ack(e.lastSocket(), evs)
	if len(r.resolved) != 1 || r.resolved[0].(IDs).PageID != en.PageID {
		t.Fatalf("page reply %+v", r)
	}
}

func TestVisitorData(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	sub := &recorder{}
	a.Push(Command{Op: OpSubscribe, Subscriber: sub})
	welcome(t, e, protocol.Welcome{VisitorData: protocol.VisitorDataView{Version: 2, Data: protocol.RawJSON(`{"loyalty":{"tier":"gold"}}`)}})
	if len(sub.data) != 2 || sub.data[0].JSON != "{}" || sub.data[1].Version != 2 {
		t.Fatalf("subscriber %+v", sub.data)
	}
	ok, bad := &recorder{}, &recorder{}
	a.Push(Command{Op: OpUpdate, Namespace: "prefs", Value: `{"dark":true}`, Reply: ok})
	a.Push(Command{Op: OpUpdate, Namespace: "loyalty", Value: `{"tier":"platinum"}`, Reply: bad})
	s := e.lastSocket()
	var u1, u2 protocol.VisitorDataUpdate
	decode(t, s.sent[len(s.sent)-2], &u1)
	decode(t, s.sent[len(s.sent)-1], &u2)
	if u1.Namespace != "prefs" || string(u1.Value) != `{"dark":true}` || u1.RequestID == u2.RequestID {
		t.Fatalf("update frames %+v %+v", u1, u2)
	}
	s.ev.Message(&Message{Type: protocol.TypeError, Error: protocol.Error{Code: protocol.CodeNamespaceNotWritable, RequestID: u2.RequestID}})
	s.ev.Message(&Message{Type: protocol.TypeVisitorData, RequestID: u1.RequestID, VisitorData: protocol.VisitorDataView{Version: 3, Data: protocol.RawJSON(`{"loyalty":{"tier":"gold"},"prefs":{"dark":true}}`)}})
	if len(bad.rejected) != 1 || bad.rejected[0] != protocol.CodeNamespaceNotWritable || len(ok.resolved) != 1 || ok.resolved[0].(VisitorData).Version != 3 {
		t.Fatalf("update replies ok=%+v bad=%+v", ok, bad)
	}
	if len(sub.data) != 3 {
		t.Fatalf("subscriber not told of version 3: %+v", sub.data)
	}
	get := &recorder{}
	a.Push(Command{Op: OpGetVisitorData, Reply: get})
	if get.resolved[0].(VisitorData).JSON != `{"loyalty":{"tier":"gold"},"prefs":{"dark":true}}` {
		t.Fatalf("get %+v", get.resolved)
	}
	inv := &recorder{}
	a.Push(Command{Op: OpUpdate, Namespace: "Bad-Name", Value: "1", Reply: inv})
	if len(inv.rejected) != 1 {
		t.Fatal("invalid namespace accepted")
	}
}

func TestCommandsWaitForConfigAndReady(t *testing.T) {
	e := newEnv(t)
	a := New(e, ConfigPatch{})
	r := &recorder{}
	a.Push(Command{Op: OpEvent, Name: "Early", Data: "{}"})
	a.Push(Command{Op: OpIDs, Reply: r})
	a.Ready()
	if len(e.socks) != 0 || len(r.resolved) != 0 {
		t.Fatal("started without a collector")
	}
	a.Push(Command{Op: OpConfig, Config: ConfigPatch{Collector: ptr("http://127.0.0.1:8080")}})
	if len(e.socks) != 1 || e.socks[0].url != "ws://127.0.0.1:8080/v1/ws?cookies=auto&cookieDomain=" || len(r.resolved) != 1 {
		t.Fatalf("after config: %d sockets, replies %+v", len(e.socks), r)
	}
	welcome(t, e, protocol.Welcome{})
	if got := names(sentEvents(t, e.lastSocket())); got != "VisitStarted,PageEntered,Early" {
		t.Fatalf("events %s", got)
	}
}

func TestNoWebSocketFallsBackToHTTP(t *testing.T) {
	e := newEnv(t)
	e.noWS = true
	start(t, e, ConfigPatch{})
	e.Advance(0)
	if len(e.posts) != 1 {
		t.Fatalf("%d posts without WebSocket", len(e.posts))
	}
}

func TestOutboxBoundCountsDrops(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{Transport: ptr("websocket")})
	a.ob.MaxEvents = 5
	rs := []*recorder{}
	for i := 0; i < 6; i++ {
		r := &recorder{}
		rs = append(rs, r)
		a.Push(Command{Op: OpEvent, Name: "E", Data: "{}", Reply: r})
	}
	st := a.Stats()
	if st.Queued != 5 || st.Dropped != 3 {
		t.Fatalf("stats %+v", st)
	}
	if len(rs[0].rejected) != 1 || rs[0].rejected[0] != CodeDropped {
		t.Fatalf("oldest event's reply %+v", rs[0])
	}
}

// Config's language (Genesys's languageCode) is the visit's language in
// VisitStarted, in place of the browser's; without it the browser's stays.
func TestConfigLanguage(t *testing.T) {
	for _, c := range []struct {
		patch ConfigPatch
		want  string
	}{{ConfigPatch{Transport: ptr("websocket"), Language: ptr("fr-CA")}, `"language":"fr-CA"`}, {ConfigPatch{Transport: ptr("websocket")}, `"language":"en"`}} {
		e := newEnv(t)
		start(t, e, c.patch)
		welcome(t, e, protocol.Welcome{})
		evs := sentEvents(t, e.lastSocket())
		if names(evs) != "VisitStarted,PageEntered" || !strings.Contains(string(evs[0].Data), c.want) {
			t.Errorf("%s: VisitStarted %s", c.want, evs[0].Data)
		}
	}
}

// A browser that keeps no cookies (blocked, or a sandboxed frame whose
// document.cookie assignments are dropped) still has one visit per page
// load, not one per event, and never loops starting visits.
func TestBlockedCookiesKeepOneVisit(t *testing.T) {
	e := newEnv(t)
	e.dropCookies = true
	a := start(t, e, ConfigPatch{VisitTimeoutMinutes: ptr(1.0)})
	welcome(t, e, protocol.Welcome{})
	first := a.visitID
	for i := 0; i < 3; i++ {
		e.Advance(10_000)
		a.Push(Command{Op: OpEvent, Name: "Click", Data: `{}`})
	}
	e.Advance(1_000)
	if a.visitID != first || e.Cookies() != "" {
		t.Fatalf("visit %s, want %s; cookies %q", a.visitID, first, e.Cookies())
	}
	if got := names(sentEvents(t, e.lastSocket())); got != "VisitStarted,PageEntered,Click,Click,Click" {
		t.Fatalf("events %s", got)
	}
	// The timeout still ends the visit, from the page's own memory.
	e.Advance(61_000)
	a.Push(Command{Op: OpEvent, Name: "Click", Data: `{}`})
	if a.visitID == first {
		t.Fatal("no new visit after the timeout")
	}
}

// The shortest timeout a site may configure still lets the events that
// start a visit belong to it.
func TestTinyVisitTimeout(t *testing.T) {
	e := newEnv(t)
	e.now += 999 // the cookie's whole seconds are older than the visit
	a := start(t, e, ConfigPatch{VisitTimeoutMinutes: ptr(0.000001)})
	welcome(t, e, protocol.Welcome{})
	first := a.visitID
	e.Advance(2_000)
	a.Push(Command{Op: OpEvent, Name: "Click", Data: `{}`})
	if a.visitID == first {
		t.Fatal("the visit outlived its timeout")
	}
	welcome(t, e, protocol.Welcome{})
	if got := names(sentEvents(t, e.lastSocket())); got != "VisitStarted,PageEntered,Click" {
		t.Fatalf("events of the new visit %s", got)
	}
}

// A close with 1013 (the collector's rate limit) keeps the backoff growing
// across reconnections, welcome or not, until a batch is acknowledged.
func TestRateLimitCloseKeepsBackingOff(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{Transport: ptr("websocket")})
	welcome(t, e, protocol.Welcome{})
	for i := 1; i <= 3; i++ {
		e.lastSocket().ev.Close(protocol.CloseTryAgainLater)
		e.Advance(30_000)
		welcome(t, e, protocol.Welcome{})
		if a.bo.Attempts() != i {
			t.Fatalf("after %d rate-limit closes: %d backoff attempts, want %d", i, a.bo.Attempts(), i)
		}
	}
	s := e.lastSocket()
	ack(s, sentEvents(t, s))
	if a.bo.Attempts() != 0 || a.throttled {
		t.Fatalf("an ack did not end the throttling: %d attempts", a.bo.Attempts())
	}
	// An ordinary drop is back to the welcome resetting it.
	s.ev.Close(1006)
	e.Advance(30_000)
	welcome(t, e, protocol.Welcome{})
	if a.bo.Attempts() != 0 {
		t.Fatal("backoff not reset by the welcome after an ordinary drop")
	}
}

// TestBrowserKey: the key the collector issues is kept in _vt_key beside
// _vt_vid (same attributes and lifetime), presented in every hello,
// collect request and beacon, replaced when the collector makes the
// browser a new visitor, and deleted with the other cookies on refusal.
func TestBrowserKey(t *testing.T) {
	e := newEnv(t)
	start(t, e, ConfigPatch{})
	hello := welcome(t, e, protocol.Welcome{VisitorKey: "key-one-0123456789abcdef"})
	if hello.VisitorKey != "" {
		t.Fatalf("first hello presented key %q", hello.VisitorKey)
	}
	if e.cookie(cookie.Key) != "key-one-0123456789abcdef" {
		t.Fatalf("_vt_key = %q", e.cookie(cookie.Key))
	}
	var keySet string
	for _, s := range e.sets {
		if strings.HasPrefix(s, cookie.Key+"=") {
			keySet = s
		}
	}
	if !strings.Contains(keySet, "Max-Age=63072000") || !strings.Contains(keySet, "; Path=/;") || !strings.Contains(keySet, "SameSite=Lax") || !strings.Contains(keySet, "; Secure") {
		t.Fatalf("_vt_key assignment %q, want _vt_vid's attributes and lifetime", keySet)
	}
	ack(e.lastSocket(), sentEvents(t, e.lastSocket()))

	// The next page presents it, in hello and in its beacon.
	a := start(t, e, ConfigPatch{})
	hello = welcome(t, e, protocol.Welcome{})
	if hello.VisitorKey != "key-one-0123456789abcdef" {
		t.Fatalf("next page's hello presented %q", hello.VisitorKey)
	}
	a.PageHide()
	var req protocol.CollectRequest
	decode(t, e.beacons[len(e.beacons)-1], &req)
	if req.VisitorKey != "key-one-0123456789abcdef" || req.VisitorID != a.visitorID {
		t.Fatalf("beacon %+v, want the key", req)
	}

	// The collector did not accept the browser: a new visitor, a new key.
	a = start(t, e, ConfigPatch{})
	other := "01KA0000000000000000000009"
	welcome(t, e, protocol.Welcome{VisitorID: other, VisitorKey: "key-two-0123456789abcdef"})
	if a.visitorID != other || e.cookie(cookie.Visitor) != other || e.cookie(cookie.Key) != "key-two-0123456789abcdef" {
		t.Fatalf("new visitor not adopted: %s, cookies %q %q", a.visitorID, e.cookie(cookie.Visitor), e.cookie(cookie.Key))
	}

	// Consent refused: the key goes with the ids.
	a.Push(Command{Op: OpConsent, Consent: false})
	if e.cookie(cookie.Key) != "" || a.key != "" {
		t.Fatalf("_vt_key kept after consent refused: %q", e.cookie(cookie.Key))
	}
}

// TestBrowserKeyOverHTTP: the HTTP transport presents the key and adopts
// the one an answer carries.
func TestBrowserKeyOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.putCookie(cookie.Visitor, "01KA0000000000000000000007", 1e9)
	e.putCookie(cookie.Key, "key-old-0123456789abcdef", 1e9)
	a := start(t, e, ConfigPatch{Transport: ptr("http")})
	e.Advance(0)
	var req protocol.CollectRequest
	decode(t, e.posts[0].body, &req)
	if req.VisitorID != "01KA0000000000000000000007" || req.VisitorKey != "key-old-0123456789abcdef" {
		t.Fatalf("request %+v, want the cookies' id and key", req)
	}
	e.posts[0].done(&protocol.CollectResponse{VisitorID: "01KA0000000000000000000008", VisitorKey: "key-new-0123456789abcdef", VisitID: req.VisitID,
		Ack: protocol.Ack{EventIDs: []string{req.Events[0].EventID, req.Events[1].EventID}}}, nil)
	if a.visitorID != "01KA0000000000000000000008" || e.cookie(cookie.Key) != "key-new-0123456789abcdef" {
		t.Fatalf("answer's key not adopted: %s %q", a.visitorID, e.cookie(cookie.Key))
	}
	a.Push(Command{Op: OpEvent, Name: "Later", Data: "{}"})
	e.Advance(0)
	decode(t, e.posts[1].body, &req)
	if req.VisitorKey != "key-new-0123456789abcdef" {
		t.Fatalf("second request presented %q", req.VisitorKey)
	}
}

// TestCookielessBeforeConsent: without consent, each page view is reported
// with no ids (cookieless: the collector derives the visitor for the day),
// while no cookie, storage or connection is made; with consent, page views
// go in the normal visit only; after a refusal, cookieless again.
func TestCookielessBeforeConsent(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{RequireConsent: ptr(true)})
	type body struct {
		Cookieless bool
		VisitorID  *string
		VisitID    *string
		VisitorKey *string
		Events     []protocol.Event
	}
	beacon := func(i int) body {
		t.Helper()
		if len(e.beacons) <= i {
			t.Fatalf("%d beacons, want more than %d", len(e.beacons), i)
		}
		var b body
		if err := json.Unmarshal([]byte(e.beacons[i]), &b); err != nil {
			t.Fatalf("beacon %s: %v", e.beacons[i], err)
		}
		if !b.Cookieless || b.VisitorID != nil || b.VisitID != nil || b.VisitorKey != nil ||
			len(b.Events) != 1 || b.Events[0].Name != protocol.EventPageEntered || b.Events[0].URL == "" ||
			b.Events[0].PageID == "" || b.Events[0].PageID == a.pageID {
			t.Fatalf("cookieless beacon %s", e.beacons[i])
		}
		return b
	}
	beacon(0)
	a.Push(Command{Op: OpPage, URL: "https://shop.example/shoes"})
	if b := beacon(1); b.Events[0].URL != "https://shop.example/shoes" {
		t.Fatalf("SPA page view %+v", b.Events[0])
	}
	if len(e.sets) != 0 || len(e.storage) != 0 || len(e.socks) != 0 || len(e.posts) != 0 {
		t.Fatalf("before consent: cookies %v storage %v sockets %d posts %d", e.sets, e.storage, len(e.socks), len(e.posts))
	}

	a.Push(Command{Op: OpConsent, Consent: true})
	welcome(t, e, protocol.Welcome{})
	a.Push(Command{Op: OpPage, URL: "https://shop.example/cart"})
	if len(e.beacons) != 2 {
		t.Fatalf("%d beacons after consent, want still 2", len(e.beacons))
	}
	// The page views consent releases into the normal visit have pageIds
	// of their own: the collector refuses a pageId another visit (the
	// cookieless one) owns.
	counted := map[string]bool{beacon(0).Events[0].PageID: true, beacon(1).Events[0].PageID: true}
	sent := sentEvents(t, e.lastSocket())
	if !strings.HasPrefix(names(sent), "VisitStarted,PageEntered,PageExited,PageEntered") {
		t.Fatalf("after consent: %s", names(sent))
	}
	for _, ev := range sent {
		if counted[ev.PageID] {
			t.Fatalf("%s reuses the pageId %s of a cookieless page view", ev.Name, ev.PageID)
		}
	}

	a.Push(Command{Op: OpConsent, Consent: false})
	a.Push(Command{Op: OpPage, URL: "https://shop.example/help"})
	if b := beacon(len(e.beacons) - 1); b.Events[0].URL != "https://shop.example/help" {
		t.Fatalf("after refusal %+v", b.Events[0])
	}
	if live := e.jar.live(e.now); len(live) != 0 {
		t.Fatalf("cookies after refusal: %v", live)
	}
}

// TestLeaveClosesTheSocket: pagehide closes the WebSocket (the page is no
// longer open for the collector, and may go into the back-forward cache);
// a page only hidden keeps it; a page restored from the cache connects
// again and counts a new page view.
func TestLeaveClosesTheSocket(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	first := e.lastSocket()
	a.PageHide() // the tab is hidden: pushes still reach it
	if first.closed {
		t.Fatal("a hidden page closed its socket")
	}
	a.Leave()
	if !first.closed || a.sock != nil {
		t.Fatal("pagehide left the socket open")
	}
	e.Advance(60_000)
	if len(e.socks) != 1 {
		t.Fatalf("a page that left dialled again: %d sockets", len(e.socks))
	}
	a.PageShow()
	if len(e.socks) != 2 || e.lastSocket() == first {
		t.Fatalf("the restored page did not connect again: %d sockets", len(e.socks))
	}
	welcome(t, e, protocol.Welcome{})
	if got := names(sentEvents(t, e.lastSocket())); !strings.Contains(got, "PageEntered") {
		t.Fatalf("the restored page sent %s, want a new PageEntered", got)
	}
}

// TestConsentWithdrawnRevokesToken: refusing consent in script mode sends
// the token the page kept to POST /v1/cookies with forget, so that the
// collector revokes it as SignOut does (a copy of the cookie recognizes
// nobody afterwards), and the page keeps no token.
func TestConsentWithdrawnRevokesToken(t *testing.T) {
	e := newEnv(t)
	e.putCookie(cookie.User, "tok", 1e9)
	a := start(t, e, ConfigPatch{})
	tok := "tok"
	welcome(t, e, protocol.Welcome{Recognition: &tok})
	a.Push(Command{Op: OpConsent, Consent: false})
	var forget *fakePost
	for _, p := range e.posts {
		if strings.HasSuffix(p.url, "/v1/cookies") {
			forget = p
		}
	}
	var body protocol.CookiesRequest
	if forget == nil {
		t.Fatal("no POST /v1/cookies after consent was withdrawn")
	}
	decode(t, forget.body, &body)
	if !body.Forget || body.Recognition == nil || *body.Recognition != "tok" {
		t.Fatalf("forget body %s: want forget with the token", forget.body)
	}
	if e.cookie(cookie.User) != "" || a.token != "" {
		t.Fatal("the token outlived the withdrawal")
	}
}
