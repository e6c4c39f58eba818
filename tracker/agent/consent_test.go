package agent

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/cookie"
)

// consentChange decodes a ConsentChanged event's data.
func consentChange(t *testing.T, ev protocol.Event) (state, source string) {
	t.Helper()
	if ev.Name != protocol.EventConsentChanged {
		t.Fatalf("event %s, want ConsentChanged", ev.Name)
	}
	var d struct{ State, Source string }
	decode(t, string(ev.Data), &d)
	return d.State, d.Source
}

// TestGPCIsConsentWithheld: with Global Privacy Control on, the tracker
// keeps no cookie or storage and opens no socket; it counts the page
// cookieless and says its consent is denied.
func TestGPCIsConsentWithheld(t *testing.T) {
	e := newEnv(t)
	e.page.GPC = true
	start(t, e, ConfigPatch{})
	e.Advance(5000)
	if len(e.sets) != 0 || len(e.storage) != 0 || len(e.socks) != 0 || len(e.posts) != 0 {
		t.Fatalf("GPC: cookies %v storage %v sockets %d posts %d", e.sets, e.storage, len(e.socks), len(e.posts))
	}
	if len(e.beacons) != 1 {
		t.Fatalf("%d beacons, want the cookieless page view", len(e.beacons))
	}
	var req protocol.CollectRequest
	decode(t, e.beacons[0], &req)
	if !req.Cookieless || req.VisitorID != "" || req.Consent != protocol.ConsentDenied || names(req.Events) != "PageEntered" {
		t.Fatalf("cookieless count %s", e.beacons[0])
	}
}

// TestRespectGPCFalse: a site that says respectGPC: false tracks as
// usual, and states its consent as unset, so that the collector does not
// read the browser's Sec-GPC header instead.
func TestRespectGPCFalse(t *testing.T) {
	e := newEnv(t)
	e.page.GPC = true
	start(t, e, ConfigPatch{RespectGPC: ptr(false)})
	hello := welcome(t, e, protocol.Welcome{})
	if e.cookie(cookie.Visitor) == "" || hello.Consent != protocol.ConsentUnset {
		t.Fatalf("respectGPC false: cookie %q, hello consent %q", e.cookie(cookie.Visitor), hello.Consent)
	}
}

// TestConsentModeGrantedAndDenied: Consent Mode's analytics_storage maps
// onto consent. The grant is recorded once (not again when the consent
// manager repeats it on the next page); the withdrawal goes by beacon
// with the visit's ids before they are deleted; an update without
// analytics_storage changes nothing.
func TestConsentModeGrantedAndDenied(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{RequireConsent: ptr(true)})
	a.Push(Command{Op: OpConsent, Consent: false, Data: SourceKeep})
	if len(e.socks) != 0 || len(e.sets) != 0 {
		t.Fatal("an update without analytics_storage changed the consent")
	}
	a.Push(Command{Op: OpConsent, Consent: true, Data: SourceConsentMode})
	hello := welcome(t, e, protocol.Welcome{})
	if hello.Consent != protocol.ConsentGranted {
		t.Fatalf("hello consent %q", hello.Consent)
	}
	evs := sentEvents(t, e.lastSocket())
	if st, src := consentChange(t, evs[len(evs)-1]); st != protocol.ConsentGranted || src != SourceConsentMode {
		t.Fatalf("grant recorded as %s from %s", st, src)
	}
	ack(e.lastSocket(), evs)
	a.Push(Command{Op: OpConsent, Consent: true, Data: SourceConsentMode})
	if got := names(sentEvents(t, e.lastSocket())); got != names(evs) {
		t.Fatalf("a repeated grant was recorded again: %s", got)
	}
	visitor, visit := a.visitorID, a.visitID

	// The next page: the consent manager says granted again.
	e2 := newEnv(t)
	e2.jar, e2.storage = e.jar, e.storage
	a2 := start(t, e2, ConfigPatch{RequireConsent: ptr(true)})
	a2.Push(Command{Op: OpConsent, Consent: true, Data: SourceConsentMode})
	welcome(t, e2, protocol.Welcome{})
	if got := names(sentEvents(t, e2.lastSocket())); got != "PageEntered" {
		t.Fatalf("next page sent %s, want no second grant", got)
	}

	// Withdrawn: the event goes first, with the ids, then everything goes.
	before := len(e.beacons) // the page view counted cookieless
	a.Push(Command{Op: OpConsent, Consent: false, Data: SourceConsentMode})
	if len(e.beacons) != before+1 {
		t.Fatalf("%d beacons, want the withdrawal", len(e.beacons)-before)
	}
	var req protocol.CollectRequest
	decode(t, e.beacons[before], &req)
	if req.VisitorID != visitor || req.VisitID != visit || req.Consent != protocol.ConsentDenied || len(req.Events) != 1 {
		t.Fatalf("withdrawal %s: want visitor %s visit %s", e.beacons[before], visitor, visit)
	}
	if st, src := consentChange(t, req.Events[0]); st != protocol.ConsentDenied || src != SourceConsentMode {
		t.Fatalf("withdrawal recorded as %s from %s", st, src)
	}
	if e.cookie(cookie.Visitor) != "" || len(e.storage) != 0 {
		t.Fatalf("after withdrawal: cookies %v storage %v", e.jar.live(e.now), e.storage)
	}
}

// TestGPCWithdrawsAGrant: a visitor who granted consent and now sends GPC
// has the withdrawal recorded in the old visit, from source gpc; a
// visitor who never granted has nothing sent with ids.
func TestGPCWithdrawsAGrant(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	a.Push(Command{Op: OpConsent, Consent: true})
	welcome(t, e, protocol.Welcome{})
	visitor := a.visitorID

	e2 := newEnv(t)
	e2.jar, e2.storage = e.jar, e.storage
	e2.page.GPC = true
	start(t, e2, ConfigPatch{})
	var withdrawal *protocol.CollectRequest
	for _, b := range e2.beacons {
		var req protocol.CollectRequest
		decode(t, b, &req)
		if !req.Cookieless {
			withdrawal = &req
		}
	}
	if withdrawal == nil || withdrawal.VisitorID != visitor || len(withdrawal.Events) != 1 {
		t.Fatalf("beacons %q: want a withdrawal for %s", e2.beacons, visitor)
	}
	if st, src := consentChange(t, withdrawal.Events[0]); st != protocol.ConsentDenied || src != SourceGPC {
		t.Fatalf("withdrawal recorded as %s from %s", st, src)
	}
	if e2.storage[consentMark] != "" {
		t.Fatal("the grant mark outlived the withdrawal")
	}
}
