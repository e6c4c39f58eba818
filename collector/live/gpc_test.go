package live_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestSecGPCWithoutConsentIsCookieless: a request with Sec-GPC: 1 that
// states no consent (a client other than the tracker), or a value that is
// none of granted, denied and unset, is counted as consent withheld, on
// both transports: its ids are ignored, it gets no key, and its visit is
// cookieless. One that states a consent (the
// tracker, which applied the site's respectGPC) is taken as it says, and
// so is one without the header.
func TestSecGPCWithoutConsentIsCookieless(t *testing.T) {
	const origin = "https://shop.example"
	col := collectortest.Start(t, "--allowed-origins", origin)
	post := func(consent string, gpc bool) (protocol.CollectResponse, string) {
		t.Helper()
		visitor := collectortest.NewID()
		body := map[string]any{"visitorId": visitor, "visitId": collectortest.NewID(),
			"events": []protocol.Event{collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)}}
		if consent != "" {
			body["consent"] = consent
		}
		hdr := []string{"Origin", origin, "User-Agent", "Firefox/140"}
		if gpc {
			hdr = append(hdr, "Sec-GPC", "1")
		}
		status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body, hdr...)
		var res protocol.CollectResponse
		if status != http.StatusOK || json.Unmarshal(b, &res) != nil || len(res.Ack.EventIDs) != 1 {
			t.Fatalf("collect (consent %q, GPC %v): %d %s", consent, gpc, status, b)
		}
		return res, visitor
	}
	cookieless := func(visitID string) bool {
		t.Helper()
		var v collector.Visit
		col.Get("/v1/visits/"+visitID, &v)
		return v.Cookieless
	}

	for _, consent := range []string{"", "yes", "Granted", "granted "} {
		res, visitor := post(consent, true)
		if res.VisitorKey != "" || res.VisitorID == visitor || !cookieless(res.VisitID) {
			t.Fatalf("Sec-GPC, consent %q: %+v, want cookieless (no key, the ids ignored)", consent, res)
		}
	}
	var res protocol.CollectResponse
	var visitor string
	for _, c := range []struct {
		consent string
		gpc     bool
	}{{protocol.ConsentUnset, true}, {protocol.ConsentGranted, true}, {"", false}} {
		res, visitor = post(c.consent, c.gpc)
		if res.VisitorKey == "" || res.VisitorID != visitor || cookieless(res.VisitID) {
			t.Fatalf("consent %q, Sec-GPC %v: %+v, want the visitor's own visit with a key", c.consent, c.gpc, res)
		}
	}

	hdr := http.Header{"Origin": {origin}, "User-Agent": {"Firefox/140"}, "Sec-GPC": {"1"}}
	for _, consent := range []string{"", "maybe"} {
		visitor = collectortest.NewID()
		ws, _ := collectortest.DialWith(t, col.WSURL(), hdr, protocol.Hello{VisitorID: visitor, VisitID: collectortest.NewID(), Consent: consent})
		if ws.Welcome.VisitorKey != "" || ws.Welcome.VisitorID == visitor || !cookieless(ws.Welcome.VisitID) {
			t.Fatalf("hello with Sec-GPC, consent %q: %+v, want cookieless", consent, ws.Welcome)
		}
	}
	visitor = collectortest.NewID()
	ws, _ := collectortest.DialWith(t, col.WSURL(), hdr, protocol.Hello{VisitorID: visitor, VisitID: collectortest.NewID(), Consent: protocol.ConsentUnset})
	if ws.Welcome.VisitorKey == "" || ws.Welcome.VisitorID != visitor || cookieless(ws.Welcome.VisitID) {
		t.Fatalf("hello with Sec-GPC and consent unset: %+v, want the visitor's own visit", ws.Welcome)
	}
}

// TestWithdrawalSetsNoCookies: in first-party mode, the request that
// records a withdrawal (consent denied) is filed in the visitor's visit,
// proven by its cookies, but sets no cookie: the tracker is deleting
// them, and a Set-Cookie that lands after that would bring them back.
func TestWithdrawalSetsNoCookies(t *testing.T) {
	col := firstPartyCollector(t)
	resp, a := collect(t, col, samePage, nil, map[string]any{"cookies": "auto", "events": []protocol.Event{signInEvent("ada")}})
	vid, key, uid := setCookie(resp, "_vt_vid"), setCookie(resp, "_vt_key"), setCookie(resp, "_vt_uid")
	if vid == nil || key == nil || uid == nil {
		t.Fatalf("first-party cookies: %v", resp.Header.Values("Set-Cookie"))
	}
	ev := collectortest.Event(protocol.EventConsentChanged, collectortest.NewID(), map[string]any{"state": "denied", "source": "api"})
	resp, b := collect(t, col, samePage, []*http.Cookie{vid, key, uid}, map[string]any{"cookies": "auto", "visitId": a.VisitID,
		"consent": protocol.ConsentDenied, "events": []protocol.Event{ev}})
	if c := resp.Header.Values("Set-Cookie"); len(c) != 0 {
		t.Fatalf("the withdrawal's answer sets cookies: %v", c)
	}
	if b.VisitID != a.VisitID || b.VisitorID != a.VisitorID || len(b.Ack.EventIDs) != 1 || b.Identity == nil || b.Identity.Recognition != nil {
		t.Fatalf("withdrawal answer %+v, want visit %s acknowledged, no token", b, a.VisitID)
	}
	var evs list[event]
	col.Get("/v1/visits/"+a.VisitID+"/events", &evs)
	if got := names(evs.Items); len(got) != 2 || got[1] != protocol.EventConsentChanged || evs.Items[1].Category != protocol.CategorySystem {
		t.Fatalf("visit's events %v, want the ConsentChanged, a system event, after the SignIn", got)
	}
}
