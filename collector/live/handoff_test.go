package live_test

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestPostCookies: POST /v1/cookies stores the token the collector issued
// to this visitor in an HttpOnly cookie, clears it on null, and refuses
// (clearing _vt_uid) someone else's token or a forged one, and refuses a
// request without the visitor's key, another site's page, an unknown
// visitor and garbage. It never answers with a token.
func TestPostCookies(t *testing.T) {
	col := firstPartyCollector(t)
	ada := collectortest.Dial(t, col.WSURL(), protocol.Hello{})
	_, adaID := ada.SendEvents(true, signInEvent("ada"))
	eve := collectortest.Dial(t, col.WSURL(), protocol.Hello{})
	_, eveID := eve.SendEvents(true, signInEvent("eve"))
	// A bare claim links eve's browser to ada, unverified: not enough.
	eve.SendEvents(false, collectortest.Event(protocol.EventUserInfo, "", map[string]any{"userId": "ada"}))
	url := col.URL() + "/v1/cookies"

	adaV, adaK, eveV, eveK := ada.Welcome.VisitorID, ada.Welcome.VisitorKey, eve.Welcome.VisitorID, eve.Welcome.VisitorKey
	resp, b := browserPost(t, url, samePage, nil, protocol.CookiesRequest{VisitorID: adaV, VisitorKey: adaK, Recognition: adaID.Recognition})
	uid := setCookie(resp, "_vt_uid")
	if resp.StatusCode != 200 || uid == nil || uid.Value != *adaID.Recognition || !uid.HttpOnly || uid.SameSite != http.SameSiteLaxMode {
		t.Fatalf("own token: %d %s, _vt_uid %+v", resp.StatusCode, b, uid)
	}
	if strings.Contains(string(b), *adaID.Recognition) || resp.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("answer %s %v: no token, credentials allowed", b, resp.Header)
	}
	if v := setCookie(resp, "_vt_vid"); v == nil || v.Value != adaV {
		t.Fatalf("_vt_vid = %+v", v)
	}
	if k := setCookie(resp, "_vt_key"); k == nil || k.Value != adaK || !k.HttpOnly {
		t.Fatalf("_vt_key = %+v, want the key, HttpOnly", k)
	}

	forged := "v1.eyJ9.AAAA"
	empty := ""
	refused := map[string]struct {
		origin string
		body   any
		status int
		clears bool // a refused token clears _vt_uid
	}{
		"ada's token for eve's browser": {samePage, protocol.CookiesRequest{VisitorID: eveV, VisitorKey: eveK, Recognition: adaID.Recognition}, 403, true},
		"eve's token for ada's browser": {samePage, protocol.CookiesRequest{VisitorID: adaV, VisitorKey: adaK, Recognition: eveID.Recognition}, 403, true},
		"forged token":                  {samePage, protocol.CookiesRequest{VisitorID: adaV, VisitorKey: adaK, Recognition: &forged}, 403, true},
		"ada's id without her key":      {samePage, protocol.CookiesRequest{VisitorID: adaV, Recognition: adaID.Recognition}, 403, false},
		"ada's id with eve's key":       {samePage, protocol.CookiesRequest{VisitorID: adaV, VisitorKey: eveK, Recognition: adaID.Recognition}, 403, false},
		"another site's page":           {otherPage, protocol.CookiesRequest{VisitorID: adaV, VisitorKey: adaK, Recognition: adaID.Recognition}, 403, false},
		"unknown visitor":               {samePage, protocol.CookiesRequest{VisitorID: collectortest.NewID(), VisitorKey: adaK, Recognition: adaID.Recognition}, 403, false},
		"not a ULID":                    {samePage, protocol.CookiesRequest{VisitorID: "x", Recognition: &empty}, 400, false},
		"garbage":                       {samePage, "[[[", 400, false},
		"oversize":                      {samePage, strings.Repeat("a", 10000), 400, false},
	}
	for name, tc := range refused {
		resp, b := browserPost(t, url, tc.origin, nil, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
			t.Errorf("%s: %d %s, want %d problem+json", name, resp.StatusCode, b, tc.status)
		}
		for _, c := range resp.Cookies() {
			if c.Value != "" {
				t.Errorf("%s: set %s=%q", name, c.Name, c.Value)
			}
		}
		if c := setCookie(resp, "_vt_uid"); tc.clears && (c == nil || c.MaxAge >= 0) {
			t.Errorf("%s: _vt_uid not cleared: %+v", name, c)
		}
	}

	// The key may come as the _vt_key cookie; a null token clears _vt_uid.
	resp, _ = browserPost(t, url, samePage, []*http.Cookie{{Name: "_vt_key", Value: adaK}}, protocol.CookiesRequest{VisitorID: adaV})
	if c := setCookie(resp, "_vt_uid"); resp.StatusCode != 200 || c == nil || c.MaxAge >= 0 {
		t.Fatalf("null token: %d, _vt_uid %+v, want it cleared", resp.StatusCode, c)
	}

	// Consent refused: every cookie goes, with no proof needed.
	resp, _ = browserPost(t, url, samePage, nil, protocol.CookiesRequest{Forget: true})
	for _, name := range []string{"_vt_uid", "_vt_key", "_vt_vid"} {
		if c := setCookie(resp, name); resp.StatusCode != 200 || c == nil || c.MaxAge >= 0 {
			t.Errorf("forget: %d, %s %+v, want it cleared", resp.StatusCode, name, c)
		}
	}
}

// recognitionKey reads the collector's key, to make tokens it would make.
func recognitionKey(t *testing.T, col *collectortest.Collector) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(col.DataDir, "recognition.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// page dials the collector's WebSocket as a page of origin would.
func page(t *testing.T, col *collectortest.Collector, origin string, hello protocol.Hello) *collectortest.Client {
	t.Helper()
	c, _ := collectortest.DialWith(t, col.WSURL(), http.Header{"Origin": {origin}}, hello)
	return c
}

// arrivals returns the HandoffArrived events of a visit.
func arrivals(t *testing.T, col *collectortest.Collector, visitID string) []event {
	t.Helper()
	var evs list[event]
	col.Get("/v1/visits/"+visitID+"/events?name="+protocol.EventHandoffArrived, &evs)
	return evs.Items
}

// handoffToken asks the connection for a handoff token.
func handoffToken(t *testing.T, c *collectortest.Client) string {
	t.Helper()
	c.Send(protocol.Handoff{Type: protocol.TypeHandoff, RequestID: "h1"})
	var h protocol.Handoff
	c.Expect(protocol.TypeHandoff, &h)
	if h.RequestID != "h1" || h.Token == "" {
		t.Fatalf("handoff = %+v", h)
	}
	return h.Token
}

// TestHandoffRecordsWhereFromAndNothingElse: a verified shopper's handoff
// token, presented on another site, leaves that browser itself (its own
// visitor and key, anonymous, no token) and records in its visit where it
// came from; the token works once and names no userId.
func TestHandoffRecordsWhereFromAndNothingElse(t *testing.T) {
	col := firstPartyCollector(t)
	shop := page(t, col, otherPage, protocol.Hello{})
	shop.SendEvents(true, signInEvent("ada"))
	tok := handoffToken(t, shop)
	if strings.Contains(tok, "ada") {
		t.Fatalf("the token names the user: %s", tok)
	}

	// A browser that has a visitor of its own on the payment site keeps it.
	pay := page(t, col, samePage, protocol.Hello{})
	own, ownKey := pay.Welcome.VisitorID, pay.Welcome.VisitorKey
	pay.Conn.CloseNow()
	arrived := page(t, col, samePage, protocol.Hello{VisitorID: own, VisitorKey: ownKey, Handoff: tok})
	w := arrived.Welcome
	if w.VisitorID != own || w.VisitorKey != ownKey || w.State != protocol.StateAnonymous || w.Verified || w.IdentityID != nil || w.Recognition != nil {
		t.Fatalf("welcome with a handoff token: %+v, want visitor %s as itself, anonymous", w, own)
	}
	// Recorded once for the visit, not again with each frame.
	arrived.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil))
	got := arrivals(t, col, w.VisitID)
	if len(got) != 1 || got[0].Data["fromVisitorId"] != shop.Welcome.VisitorID || got[0].Data["fromVisitId"] != shop.Welcome.VisitID ||
		got[0].Category != protocol.CategorySystem {
		t.Fatalf("HandoffArrived of the visit: %+v, want one naming %s/%s", got, shop.Welcome.VisitorID, shop.Welcome.VisitID)
	}

	// Used once: the same token again records nothing.
	again := page(t, col, samePage, protocol.Hello{Handoff: tok})
	assertIgnored(t, "reused", again.Welcome, shop.Welcome.VisitorID)
	if got := arrivals(t, col, again.Welcome.VisitID); len(got) != 0 {
		t.Fatalf("a reused token was recorded: %+v", got)
	}
}

// TestHandoffOverHTTP: POST /v1/handoff issues a token to a page of an
// allowed origin holding the visitor's key; the first /v1/collect of the
// other site records it. A request without an Origin (a server minting
// links), with someone's ids but not their key, or without ids, gets none.
func TestHandoffOverHTTP(t *testing.T) {
	col := firstPartyCollector(t)
	_, a := collect(t, col, otherPage, nil, map[string]any{"events": []protocol.Event{signInEvent("ada")}})
	resp, b := browserPost(t, col.URL()+"/v1/handoff", otherPage, nil,
		protocol.HandoffRequest{VisitorID: a.VisitorID, VisitorKey: a.VisitorKey, VisitID: a.VisitID, Recognition: a.Identity.Recognition})
	var h protocol.Handoff
	if resp.StatusCode != 200 || json.Unmarshal(b, &h) != nil || h.Token == "" {
		t.Fatalf("POST /v1/handoff: %d %s", resp.StatusCode, b)
	}
	_, n := collect(t, col, samePage, nil, map[string]any{"handoff": h.Token, "visitorId": collectortest.NewID()})
	if n.VisitorID == a.VisitorID || n.Identity == nil || n.Identity.State != protocol.StateAnonymous || n.Identity.Verified || n.Identity.Recognition != nil {
		t.Fatalf("collect with handoff: %+v %+v, want a visitor of its own, anonymous", n, n.Identity)
	}
	if got := arrivals(t, col, n.VisitID); len(got) != 1 || got[0].Data["fromVisitorId"] != a.VisitorID {
		t.Fatalf("HandoffArrived: %+v", got)
	}

	for name, tc := range map[string]struct {
		origin string
		body   protocol.HandoffRequest
		status int
	}{
		"no Origin (a server)":       {"", protocol.HandoffRequest{VisitorID: a.VisitorID, VisitorKey: a.VisitorKey, VisitID: a.VisitID}, 403},
		"ids without the key":        {otherPage, protocol.HandoffRequest{VisitorID: a.VisitorID, VisitID: a.VisitID}, 403},
		"ids with another key":       {otherPage, protocol.HandoffRequest{VisitorID: a.VisitorID, VisitorKey: strings.Repeat("x", 22), VisitID: a.VisitID}, 403},
		"no visitor":                 {otherPage, protocol.HandoffRequest{}, 400},
		"an origin that is not ours": {"http://evil.example", protocol.HandoffRequest{VisitorID: a.VisitorID, VisitorKey: a.VisitorKey}, 403},
	} {
		resp, b := browserPost(t, col.URL()+"/v1/handoff", tc.origin, nil, tc.body)
		if resp.StatusCode != tc.status || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") || strings.Contains(string(b), "token\"") {
			t.Errorf("%s: %d %s, want %d problem+json", name, resp.StatusCode, b, tc.status)
		}
	}
}

// TestHandoffRefused: a token that is forged, expired or garbage is
// ignored: the browser goes on as itself and nothing is recorded.
func TestHandoffRefused(t *testing.T) {
	col := firstPartyCollector(t)
	ada := page(t, col, samePage, protocol.Hello{})
	ada.SendEvents(true, signInEvent("ada"))
	adaVisitor := ada.Welcome.VisitorID

	key := recognitionKey(t, col)
	past, _ := identity.NewHandoffs(key, 0, func() time.Time { return time.Now().Add(-time.Hour) }, nil)
	otherKey, _ := identity.NewHandoffs([]byte(strings.Repeat("k", 32)), 0, nil, nil)
	expired, _ := past.Issue(adaVisitor, ada.Welcome.VisitID)
	forged, _ := otherKey.Issue(adaVisitor, ada.Welcome.VisitID)
	for name, tok := range map[string]string{
		"expired": expired,
		"forged":  forged,
		"garbage": "h2.'); DROP TABLE handoff_uses; --",
		"huge":    strings.Repeat("h", 100000),
	} {
		c := page(t, col, samePage, protocol.Hello{Handoff: tok})
		assertIgnored(t, name, c.Welcome, adaVisitor)
		if got := arrivals(t, col, c.Welcome.VisitID); len(got) != 0 {
			t.Errorf("%s token recorded: %+v", name, got)
		}
	}
}

// TestHandoffFixation is the attack: an anonymous attacker writes a
// browser-writable namespace (his IBAN), makes a handoff link and gets a
// victim to open it; she then signs in with a real proof. Nothing of his
// (visitor, visit, namespace) reaches her identity, and nothing of hers
// (visit, identity) reaches his visitor or identity.
func TestHandoffFixation(t *testing.T) {
	col := firstPartyCollector(t, "--browser-writable", "prefs")
	attacker := page(t, col, otherPage, protocol.Hello{})
	attacker.Send(protocol.VisitorDataUpdate{Type: protocol.TypeVisitorDataUpdate, RequestID: "u1", Namespace: "prefs",
		Value: protocol.RawJSON(`{"payTo":"` + iban + `"}`)})
	var vd protocol.VisitorDataView
	attacker.Expect(protocol.TypeVisitorData, &vd)
	tok := handoffToken(t, attacker)

	victim := page(t, col, samePage, protocol.Hello{Handoff: tok})
	if victim.Welcome.VisitorID == attacker.Welcome.VisitorID || strings.Contains(string(victim.Welcome.VisitorData.Data), iban) {
		t.Fatalf("the victim's browser took the attacker's visitor: %+v", victim.Welcome)
	}
	_, id := victim.SendEvents(true, signInEvent("victim@example.com"))
	if id == nil || !id.Verified || id.IdentityID == nil {
		t.Fatalf("her proven SignIn: %+v", id)
	}
	her := *id.IdentityID
	status, b := col.Do("GET", "/v1/identities/"+her+"/visitor-data", nil)
	if status != 200 || strings.Contains(string(b), iban) {
		t.Fatalf("her identity's visitor data: %d %s", status, b)
	}
	var vs list[visit]
	col.Get("/v1/identities/"+her+"/visits", &vs)
	for _, v := range vs.Items {
		if v.VisitorID == attacker.Welcome.VisitorID || v.VisitID == attacker.Welcome.VisitID {
			t.Fatalf("the attacker's visit %s is in her history", v.VisitID)
		}
	}
	col.Get("/v1/visits?visitorId="+attacker.Welcome.VisitorID, &vs)
	for _, v := range vs.Items {
		if v.VisitID == victim.Welcome.VisitID || v.IdentityID != nil {
			t.Fatalf("her visit, or an identity, on the attacker's visitor: %+v", v)
		}
	}
}

func assertIgnored(t *testing.T, name string, w protocol.Welcome, victim string) {
	t.Helper()
	if w.VisitorID == victim || w.State != protocol.StateAnonymous || w.IdentityID != nil || w.Verified || w.Recognition != nil {
		t.Errorf("%s handoff token: welcome %+v, want a new anonymous visitor", name, w)
	}
}
