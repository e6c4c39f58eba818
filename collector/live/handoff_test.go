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

// TestHandoff: a verified browser's handoff token, presented once on
// another site, makes the new visit that visitor's, recognized and
// verified, with a fresh recognition token.
func TestHandoff(t *testing.T) {
	col := firstPartyCollector(t)
	first := collectortest.Dial(t, col.WSURL(), protocol.Hello{})
	_, id := first.SendEvents(true, signInEvent("ada"))
	first.Send(protocol.Handoff{Type: protocol.TypeHandoff, RequestID: "h1"})
	var h protocol.Handoff
	first.Expect(protocol.TypeHandoff, &h)
	if h.RequestID != "h1" || h.Token == "" || strings.Contains(h.Token, "ada") {
		t.Fatalf("handoff = %+v", h)
	}

	second := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), Handoff: h.Token})
	w := second.Welcome
	if w.VisitorID != first.Welcome.VisitorID || w.VisitID == first.Welcome.VisitID {
		t.Fatalf("welcome %+v: want visitor %s in a new visit", w, first.Welcome.VisitorID)
	}
	if w.State != protocol.StateRecognized || !w.Verified || w.IdentityID == nil || *w.IdentityID != *id.IdentityID || w.Recognition == nil {
		t.Fatalf("welcome %+v: want recognized, verified, %s, with a token", w, *id.IdentityID)
	}
	signer, _ := identity.NewSigner(recognitionKey(t, col), 0, nil)
	if c, err := signer.Verify(*w.Recognition); err != nil || c.IdentityID != *id.IdentityID || c.UserID != "ada" {
		t.Fatalf("the new site's token: %+v %v", c, err)
	}

	// Used once: the same token again is ignored.
	again := collectortest.Dial(t, col.WSURL(), protocol.Hello{Handoff: h.Token})
	assertIgnored(t, "reused", again.Welcome, first.Welcome.VisitorID)
}

// TestHandoffOverHTTP: POST /v1/handoff issues a token, and the first
// /v1/collect of the other site redeems it.
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
	if n.VisitorID != a.VisitorID || n.Identity.State != protocol.StateRecognized || !n.Identity.Verified || n.Identity.Recognition == nil {
		t.Fatalf("collect with handoff: %+v %+v", n, n.Identity)
	}
}

// TestHandoffRefused: nothing of another person comes with a token that
// is forged, expired, garbage, or asked for with someone's ids but not
// their proof; an unverified claim does not carry over.
func TestHandoffRefused(t *testing.T) {
	col := firstPartyCollector(t)
	ada := collectortest.Dial(t, col.WSURL(), protocol.Hello{})
	ada.SendEvents(true, signInEvent("ada"))
	adaVisitor := ada.Welcome.VisitorID

	key := recognitionKey(t, col)
	past, _ := identity.NewHandoffs(key, 0, func() time.Time { return time.Now().Add(-time.Hour) }, nil)
	otherKey, _ := identity.NewHandoffs([]byte(strings.Repeat("k", 32)), 0, nil, nil)
	ident := ada.Welcome.IdentityID
	if ident == nil {
		// welcome came before the SignIn: read it from the visit
		var v visit
		col.Get("/v1/visits/"+ada.Welcome.VisitID, &v)
		ident = v.IdentityID
	}
	expired, _ := past.Issue(adaVisitor, ada.Welcome.VisitorKey, *ident)
	forged, _ := otherKey.Issue(adaVisitor, ada.Welcome.VisitorKey, *ident)
	for name, tok := range map[string]string{
		"expired": expired,
		"forged":  forged,
		"garbage": "h1.'); DROP TABLE handoff_uses; --",
		"huge":    strings.Repeat("h", 100000),
	} {
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{Handoff: tok})
		assertIgnored(t, name, c.Welcome, adaVisitor)
	}

	// Someone's ids without their key and token: the token is for a new
	// visitor, and nothing of theirs comes along.
	resp, b := browserPost(t, col.URL()+"/v1/handoff", samePage, nil,
		protocol.HandoffRequest{VisitorID: adaVisitor, VisitID: ada.Welcome.VisitID})
	var h protocol.Handoff
	if resp.StatusCode != 200 || json.Unmarshal(b, &h) != nil {
		t.Fatalf("POST /v1/handoff: %d %s", resp.StatusCode, b)
	}
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{Handoff: h.Token})
	assertIgnored(t, "ids without proof", c.Welcome, adaVisitor)

	// An unverified claim does not carry over.
	claim := collectortest.Dial(t, col.WSURL(), protocol.Hello{})
	claim.SendEvents(true, collectortest.Event(protocol.EventUserInfo, "", map[string]any{"userId": "ada"}))
	claim.Send(protocol.Handoff{Type: protocol.TypeHandoff, RequestID: "x"})
	claim.Expect(protocol.TypeHandoff, &h)
	c = collectortest.Dial(t, col.WSURL(), protocol.Hello{Handoff: h.Token})
	if c.Welcome.VisitorID != claim.Welcome.VisitorID || c.Welcome.State != protocol.StateAnonymous || c.Welcome.IdentityID != nil {
		t.Fatalf("a claim carried over: %+v", c.Welcome)
	}
}

func assertIgnored(t *testing.T, name string, w protocol.Welcome, victim string) {
	t.Helper()
	if w.VisitorID == victim || w.State != protocol.StateAnonymous || w.IdentityID != nil || w.Verified || w.Recognition != nil {
		t.Errorf("%s handoff token: welcome %+v, want a new anonymous visitor", name, w)
	}
}
