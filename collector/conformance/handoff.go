package conformance

import (
	"encoding/json"
	"net/http"
	"testing"
)

// testHandoff: the cross-domain handoff over HTTP (docs/identity.md,
// "Cross-domain handoff"), which the edge build must keep too. POST
// /v1/handoff issues a token to a page of an allowed origin that holds
// the visitor's key; the first /v1/collect of another browser presenting
// it stays that browser (its own visitor, anonymous) and its visit
// records where it came from (HandoffArrived); the token works once (a
// table of redeemed ids, which D1 must run). A link is a pointer, never a
// credential (docs/security.md#handoff-link).
func (s *suite) testHandoff(t *testing.T) {
	shopper, _, identityID := s.signedIn(t, "handoff")
	r := s.do(t, req{method: "POST", path: "/v1/handoff", header: map[string]string{"Origin": s.Origin},
		body: map[string]any{"visitorId": shopper.visitorID, "visitorKey": shopper.visitorKey, "visitId": shopper.visitID, "recognition": shopper.recognition}})
	r.want(t, http.StatusOK)
	var h struct {
		Token string `json:"token"`
	}
	r.decode(t, &h)
	if h.Token == "" {
		t.Fatalf("POST /v1/handoff: %s", r)
	}

	other := newBrowser()
	body := other.body()
	body["handoff"] = h.Token
	var a collectAnswer
	r = s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.decode(t, &a)
	a.raw = string(r.Body)
	if a.VisitorID != other.visitorID || a.Identity == nil || a.Identity.State != "anonymous" {
		t.Fatalf("collect with the handoff token: visitor %s, identity %v; want the browser's own visitor %s, anonymous", a.VisitorID, a.Identity, other.visitorID)
	}
	wantNothingOf(t, "collect with a handoff token", &a, identityID)
	arrived := 0
	for _, e := range s.events(t, a.VisitID) {
		var data map[string]any
		if e.Name == "HandoffArrived" && json.Unmarshal(e.Data, &data) == nil && data["fromVisitorId"] == shopper.visitorID {
			arrived++
		}
	}
	if arrived != 1 {
		t.Fatalf("HandoffArrived events naming %s in the visit: %d, want 1", shopper.visitorID, arrived)
	}

	third := newBrowser()
	body = third.body()
	body["handoff"] = h.Token
	a = collectAnswer{}
	r = s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.decode(t, &a)
	a.raw = string(r.Body)
	if a.VisitorID == shopper.visitorID || countName(s.events(t, a.VisitID), "HandoffArrived") != 0 {
		t.Fatalf("a reused token was accepted: %s", a.raw)
	}
	wantNothingOf(t, "reused handoff token", &a, identityID)

	// Someone's ids without their key, or a request without an Origin (a
	// server minting links), get no token.
	s.do(t, req{method: "POST", path: "/v1/handoff", header: map[string]string{"Origin": s.Origin},
		body: map[string]any{"visitorId": shopper.visitorID, "visitId": shopper.visitID}}).wantProblem(t, http.StatusForbidden)
	s.do(t, req{method: "POST", path: "/v1/handoff",
		body: map[string]any{"visitorId": shopper.visitorID, "visitorKey": shopper.visitorKey, "visitId": shopper.visitID}}).wantProblem(t, http.StatusForbidden)
}
