package conformance

import (
	"net/http"
	"testing"
)

// testHandoff: the cross-domain handoff over HTTP (docs/identity.md#cross-domain-handoff), which
// the edge build must keep too: POST /v1/handoff issues a token for the
// browser that proves its visitor and identity, the first /v1/collect of
// another browser presenting it becomes that visitor, recognized and
// verified, and the token works once (a table of redeemed ids, which D1
// must run).
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
	s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}}).decode(t, &a)
	if a.VisitorID != shopper.visitorID || a.VisitorKey == "" || a.Identity == nil || a.Identity.State != "recognized" ||
		!a.Identity.Verified || a.Identity.IdentityID == nil || *a.Identity.IdentityID != identityID || a.Identity.Recognition == nil {
		t.Fatalf("collect with the handoff token: visitor %s, identity %v; want visitor %s recognized as %s", a.VisitorID, a.Identity, shopper.visitorID, identityID)
	}

	third := newBrowser()
	body = third.body()
	body["handoff"] = h.Token
	a = collectAnswer{}
	r = s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.decode(t, &a)
	a.raw = string(r.Body)
	if a.VisitorID == shopper.visitorID {
		t.Fatalf("a reused token was accepted: %s", a.raw)
	}
	wantNothingOf(t, "reused handoff token", &a, identityID)

	// Someone's ids without their key and token carry nothing of theirs.
	r = s.do(t, req{method: "POST", path: "/v1/handoff", header: map[string]string{"Origin": s.Origin},
		body: map[string]any{"visitorId": shopper.visitorID, "visitId": shopper.visitID}})
	r.want(t, http.StatusOK)
	r.decode(t, &h)
	fourth := newBrowser()
	body = fourth.body()
	body["handoff"] = h.Token
	a = collectAnswer{}
	r = s.do(t, req{method: "POST", path: "/v1/collect", body: body, header: map[string]string{"Origin": s.Origin}})
	r.decode(t, &a)
	a.raw = string(r.Body)
	if a.VisitorID == shopper.visitorID {
		t.Fatalf("ids without a key adopted the visitor: %s", a.raw)
	}
	wantNothingOf(t, "handoff asked with ids only", &a, identityID)
}
