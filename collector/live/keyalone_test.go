package live_test

import (
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// A browser key proves the browser, never the person (docs/security.md):
// whoever holds a visitor's key without a recognition token of its
// identity learns nothing of that identity and adds nothing to it, on an
// ended visit (a late delivery) or an open one, over HTTP or a WebSocket.

const iban = "DE89370400440532013000"

// at is an event of name made at t (the browser's clock).
func at(name string, t time.Time) protocol.Event {
	e := collectortest.Event(name, collectortest.NewID(), nil)
	e.Timestamp = t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	return e
}

// eventsNamed returns the events called name in the identity's history.
func identityEventsNamed(t *testing.T, col *collectortest.Collector, identityID, name string) int {
	t.Helper()
	var evs list[event]
	col.Get("/v1/identities/"+identityID+"/events?name="+name, &evs)
	return len(evs.Items)
}

// revealsNothing fails when an answer names the identity or carries its
// visitor data.
func revealsNothing(t *testing.T, what string, res protocol.CollectResponse, raw, identityID string) {
	t.Helper()
	if strings.Contains(raw, iban) || strings.Contains(raw, identityID) {
		t.Fatalf("%s: the answer tells of the identity: %s", what, raw)
	}
	if res.Identity != nil && (res.Identity.Verified || res.Identity.State != protocol.StateAnonymous) {
		t.Fatalf("%s: identity %+v in the answer, want none or anonymous", what, res.Identity)
	}
}

// TestLateDeliveryWithKeyAloneAfterSignOut is the shared-computer story: a
// person signs in with a proof in V1, a backend writes her bank details,
// V1 times out, she comes back (recognized) and signs out. Whoever holds
// her browser key then posts an event to V1, dated before V1 ended: the
// answer says nothing of her, and nothing is filed under her identity.
func TestLateDeliveryWithKeyAloneAfterSignOut(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--visit-timeout", "500ms")
	visitor, v1 := collectortest.NewID(), collectortest.NewID()
	started := time.Now()
	res, _ := collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitId": v1,
		"events": []protocol.Event{collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven("ada", nil))}})
	if res.Identity == nil || !res.Identity.Verified || res.Identity.Recognition == nil {
		t.Fatalf("proven SignIn: %+v", res.Identity)
	}
	key, tok, identityID := res.VisitorKey, *res.Identity.Recognition, *res.Identity.IdentityID
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`"}`)
	waitVisitEnded(t, col, v1)

	// She returns, recognized by her token, and signs out.
	res, raw := collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": collectortest.NewID(),
		"recognition": tok, "events": []protocol.Event{collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)}})
	if res.Identity == nil || res.Identity.State != protocol.StateRecognized || !res.Identity.Verified {
		t.Fatalf("return with the token: %s", raw)
	}
	res, _ = collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": res.VisitID,
		"recognition": tok, "events": []protocol.Event{collectortest.Event(protocol.EventSignOut, "", nil)}})
	if res.Identity == nil || res.Identity.State != protocol.StateAnonymous || res.Identity.Recognition != nil {
		t.Fatalf("SignOut: %+v", res.Identity)
	}

	// The next person at the computer, with the key alone, and with the
	// revoked token too.
	for name, rec := range map[string]any{"key alone": nil, "revoked token": tok} {
		res, raw = collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": v1, "recognition": rec,
			"events": []protocol.Event{at("Snoop", started.Add(10*time.Millisecond))}})
		if len(res.Ack.EventIDs) != 1 {
			t.Fatalf("%s: ack %+v; the event is stored, elsewhere", name, res.Ack)
		}
		revealsNothing(t, name, res, raw, identityID)
		if res.VisitID == v1 {
			t.Fatalf("%s: the event joined the ended verified visit %s", name, v1)
		}
	}
	if n := identityEventsNamed(t, col, identityID, "Snoop"); n != 0 {
		t.Fatalf("%d events of the key holder filed under her identity", n)
	}
}

// TestLateDeliveryWithTokenJoinsAndSaysNothing: the browser that still
// holds the token (its person did not sign out) resends a beacon of V1:
// it joins V1, and its answer still says nothing of the identity, which
// is the business of the browser's current visit.
func TestLateDeliveryWithTokenJoinsAndSaysNothing(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--visit-timeout", "500ms")
	visitor, v1 := collectortest.NewID(), collectortest.NewID()
	started := time.Now()
	res, _ := collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitId": v1,
		"events": []protocol.Event{collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven("ada", nil))}})
	key, tok, identityID := res.VisitorKey, *res.Identity.Recognition, *res.Identity.IdentityID
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`"}`)
	waitVisitEnded(t, col, v1)

	res, raw := collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": v1,
		"recognition": tok, "recognize": false, "events": []protocol.Event{at(protocol.EventPageExited, started.Add(20*time.Millisecond))}})
	if res.VisitID != v1 || len(res.Ack.EventIDs) != 1 {
		t.Fatalf("late delivery with the token: %s, want it filed in %s", raw, v1)
	}
	if res.Identity != nil || res.VisitorData != nil {
		t.Fatalf("late delivery's answer: %s, want no identity and no visitor data", raw)
	}
	revealsNothing(t, "late delivery with the token", res, raw, identityID)
	if n := identityEventsNamed(t, col, identityID, protocol.EventPageExited); n != 1 {
		t.Fatalf("the late PageExited in the identity's history: %d, want 1", n)
	}
}

// TestOpenVerifiedVisitNeedsItsToken: a verified visit that is still open
// is continued with the key only by a browser that shows the token; the
// key alone gets a visit of its own, over HTTP and over a WebSocket.
func TestOpenVerifiedVisitNeedsItsToken(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	visitor, v1 := collectortest.NewID(), collectortest.NewID()
	res, _ := collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitId": v1,
		"events": []protocol.Event{collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven("ada", nil))}})
	key, tok, identityID := res.VisitorKey, *res.Identity.Recognition, *res.Identity.IdentityID
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`"}`)

	res, raw := collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": v1,
		"events": []protocol.Event{collectortest.Event("Snoop", collectortest.NewID(), nil)}})
	revealsNothing(t, "HTTP with the key alone", res, raw, identityID)
	if res.VisitID == v1 || res.VisitorID != visitor {
		t.Fatalf("HTTP with the key alone: visit %s of %s, want a new visit of the same visitor", res.VisitID, res.VisitorID)
	}

	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitorKey: key, VisitID: v1})
	if c.Welcome.VisitID == v1 || c.Welcome.IdentityID != nil || c.Welcome.Verified || strings.Contains(string(c.Welcome.VisitorData.Data), iban) {
		t.Fatalf("WebSocket with the key alone: welcome %+v", c.Welcome)
	}
	c.SendEvents(false, collectortest.Event("Snoop", collectortest.NewID(), nil))
	noPushOf(t, col, c, visitor, iban)
	if n := identityEventsNamed(t, col, identityID, "Snoop"); n != 0 {
		t.Fatalf("%d events of the key holder filed under the identity", n)
	}

	// The browser itself, with its token, goes on in its verified visit,
	// and a token with recognize false proves it just as well.
	for _, recognize := range []any{nil, false} {
		res, raw = collectHTTP(t, col, map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": v1, "recognition": tok,
			"recognize": recognize, "events": []protocol.Event{collectortest.Event("Browse", collectortest.NewID(), nil)}})
		if res.VisitID != v1 || res.Identity == nil || !res.Identity.Verified || res.Identity.IdentityID == nil || *res.Identity.IdentityID != identityID {
			t.Fatalf("the browser with its token (recognize %v): %s", recognize, raw)
		}
	}
	if n := identityEventsNamed(t, col, identityID, "Browse"); n != 2 {
		t.Fatalf("the browser's own events under its identity: %d, want 2", n)
	}
}

// TestSocketWhoseVisitEndedWhileOpen: events a socket sends after its
// verified visit timed out, dated before the end, join that visit with an
// ack alone (no identity frame, no welcome); later events open a visit in
// which the socket's token recognizes it again.
func TestSocketWhoseVisitEndedWhileOpen(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--visit-timeout", "500ms")
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	started := time.Now()
	v1 := c.Welcome.VisitID
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven("ada", nil)))
	waitVisitEnded(t, col, v1)

	c.Send(protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{at(protocol.EventPageExited, started.Add(20*time.Millisecond))}})
	for {
		// The SignIn's document may still be on its way; then the ack,
		// and nothing that speaks of identity or a new visit.
		typ, b, err := c.Read()
		if err != nil || typ != protocol.TypeAck && typ != protocol.TypeVisitorData {
			t.Fatalf("after a late events frame: %s %s (%v), want the ack alone", typ, b, err)
		}
		if typ == protocol.TypeAck {
			break
		}
	}
	if n := identityEventsNamed(t, col, *id.IdentityID, protocol.EventPageExited); n != 1 {
		t.Fatalf("the socket's late PageExited under its identity: %d, want 1", n)
	}
	c.Send(protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{collectortest.Event("Browse", collectortest.NewID(), nil)}})
	var w protocol.Welcome
	c.Expect(protocol.TypeWelcome, &w)
	if w.VisitID == v1 || w.State != protocol.StateRecognized || !w.Verified {
		t.Fatalf("the socket's next visit: %+v, want recognized by its token", w)
	}
}

// TestSignOutInOneTabReachesTheOthers: two tabs share a verified visit
// (the second presented the token); a SignOut in the first moves the
// second off the identity's document at once: it hears that the visit is
// anonymous, gets the visitor's own document, and no later write of the
// identity reaches it.
func TestSignOutInOneTabReachesTheOthers(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	first := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := first.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven("ada", nil)))
	identityID := *id.IdentityID
	w := first.Welcome
	second := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: w.VisitorID, VisitorKey: w.VisitorKey, VisitID: w.VisitID, Recognition: id.Recognition})
	if second.Welcome.VisitID != w.VisitID || !second.Welcome.Verified {
		t.Fatalf("the second tab with the token: %+v", second.Welcome)
	}
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`"}`)
	waitFor(t, second, "the identity's document in the second tab", func(v protocol.VisitorDataView) bool {
		return strings.Contains(string(v.Data), iban)
	})

	first.SendEvents(true, collectortest.Event(protocol.EventSignOut, "", nil))
	var sawIdentity bool
	for {
		typ, b, err := second.Read()
		if err != nil {
			t.Fatalf("the second tab after the SignOut: %v", err)
		}
		if typ == protocol.TypeIdentity {
			if !strings.Contains(string(b), `"state":"anonymous"`) || strings.Contains(string(b), identityID) {
				t.Fatalf("the second tab's identity frame: %s", b)
			}
			sawIdentity = true
			continue
		}
		if typ == protocol.TypeVisitorData && sawIdentity {
			if strings.Contains(string(b), iban) {
				t.Fatalf("the second tab's document after the SignOut: %s", b)
			}
			break
		}
	}
	patch(t, col, "/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`-2"}`)
	noPushOf(t, col, second, w.VisitorID, iban)
}
