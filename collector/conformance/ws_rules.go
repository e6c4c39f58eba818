package conformance

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// patchData writes one namespace of a subject ("visitors/ID" or
// "identities/ID") as a backend does, and returns the new version.
func (s *suite) patchData(t *testing.T, subject, namespace, patch string) float64 {
	t.Helper()
	r := s.do(t, req{method: "PATCH", path: "/v1/" + subject + "/visitor-data/" + namespace, token: s.AdminToken,
		contentType: "application/merge-patch+json", body: patch})
	r.want(t, http.StatusOK)
	var v namespaceView
	r.decode(t, &v)
	return float64(v.Version)
}

// wantPush reads a visitorData frame and fails unless it has this version
// and its data has value at keys.
func (w *socket) wantPush(version float64, value any, keys ...string) {
	w.t.Helper()
	m := w.want("visitorData")
	if m["version"] != version || Path(m["data"], keys...) != value {
		w.t.Fatalf("visitorData %v, want version %v with %s = %v", m, version, strings.Join(keys, "."), value)
	}
}

// testWSPush: a REST write of a visitor's data is pushed to that
// visitor's socket, and to no other: another visitor's socket gets its own
// write first.
func (s *suite) testWSPush(t *testing.T) {
	a, other := newBrowser(), newBrowser()
	wa, _ := s.open(t, a)
	wo, _ := s.open(t, other)
	v := s.patchData(t, "visitors/"+a.visitorID, "campaign", `{"step":2}`)
	wa.wantPush(v, float64(2), "campaign", "step")
	vo := s.patchData(t, "visitors/"+other.visitorID, "campaign", `{"step":7}`)
	// Had a's write reached other's socket, it would come first.
	wo.wantPush(vo, float64(7), "campaign", "step")

	// A second socket of the same visitor (another tab) gets the next
	// write too, and a socket that said hello again keeps getting them.
	wa2, w2 := s.open(t, a)
	if Path(w2["visitorData"], "data", "campaign", "step") != float64(2) {
		t.Fatalf("welcome of a second tab %v, want the visitor's data", w2)
	}
	v = s.patchData(t, "visitors/"+a.visitorID, "campaign", `{"step":3}`)
	wa.wantPush(v, float64(3), "campaign", "step")
	wa2.wantPush(v, float64(3), "campaign", "step")
}

// testWSIdentityPush: a socket signed in with a proof holds the identity's
// data and gets its writes; a socket that only claims the same user is
// not verified and gets none of them.
func (s *suite) testWSIdentityPush(t *testing.T) {
	b, userID, identityID := s.signedIn(t, "wspush")
	ws, w := s.open(t, b)
	if w["identityId"] != identityID || w["verified"] != true {
		t.Fatalf("welcome of a signed-in browser %v, want identity %s, verified", w, identityID)
	}
	if Path(w["visitorData"], "data", "crm", "secretTier") != "platinum" {
		t.Fatalf("welcome visitorData %v, want the identity's", w["visitorData"])
	}
	claimer := newBrowser()
	e := claimer.event("SignIn", map[string]any{"userId": userID})
	s.collect(t, claimer, e)
	wc, wcw := s.open(t, claimer)
	if wcw["identityId"] == identityID || wcw["verified"] == true || strings.Contains(toJSON(t, wcw), "platinum") {
		t.Fatalf("welcome of an unproven claim of the same user %v reveals the identity", wcw)
	}
	v := s.patchData(t, "identities/"+identityID, "crm", `{"secretTier":"diamond"}`)
	ws.wantPush(v, "diamond", "crm", "secretTier")
	vc := s.patchData(t, "visitors/"+claimer.visitorID, "crm", `{"own":true}`)
	wc.wantPush(vc, true, "crm", "own")
}

// testWSNotification: a notification reaches the visit's open page, and
// the answer counts it; a visit without an open page counts none.
func (s *suite) testWSNotification(t *testing.T) {
	b := newBrowser()
	ws, _ := s.open(t, b)
	r := s.do(t, req{method: "POST", path: "/v1/visits/" + b.visitID + "/notifications", token: s.AdminToken,
		body: map[string]any{"channel": "chat", "data": map[string]any{"text": "hello"}}})
	r.want(t, http.StatusAccepted)
	var a struct {
		ID        string `json:"id"`
		Delivered int    `json:"delivered"`
	}
	r.decode(t, &a)
	if a.Delivered != 1 || a.ID == "" {
		t.Fatalf("%s: want delivered 1 and an id", r)
	}
	n := ws.want("notification")
	if n["id"] != a.ID || n["channel"] != "chat" || Path(n["data"], "text") != "hello" {
		t.Fatalf("notification frame %v, want id %s, channel chat, data.text hello", n, a.ID)
	}

	quiet := newBrowser()
	e := quiet.event("PageEntered", nil)
	s.collect(t, quiet, e).wantAcked(t, e)
	r = s.do(t, req{method: "POST", path: "/v1/visits/" + quiet.visitID + "/notifications", token: s.AdminToken,
		body: map[string]any{"channel": "chat", "data": nil}})
	r.want(t, http.StatusAccepted)
	r.decode(t, &a)
	if a.Delivered != 0 {
		t.Fatalf("%s: want delivered 0 for a visit without an open page", r)
	}
}

// testWSBadFrames: after hello, a bad frame gets an error frame and the
// conversation goes on.
func (s *suite) testWSBadFrames(t *testing.T) {
	b := newBrowser()
	ws, _ := s.open(t, b)
	ws.write(websocket.MessageBinary, []byte(`{"type":"events","events":[]}`))
	ws.wantError("invalid_message", "")
	ws.write(websocket.MessageText, []byte(`{"type":"events",`))
	ws.wantError("invalid_message", "")
	ws.send(map[string]any{"type": "telepathy"})
	ws.wantError("unknown_type", "")
	many := make([]map[string]any, 501)
	for i := range many {
		many[i] = b.event("Step", nil)
	}
	ws.send(events(many...))
	ws.wantError("too_many_events", "")
	ws.send(map[string]any{"type": "visitorData.update", "requestId": "r1", "namespace": "campaign", "value": map[string]any{"x": 1}})
	ws.wantError("namespace_not_writable", "r1")
	ws.send(map[string]any{"type": "visitorData.update", "requestId": "r2", "namespace": "Not-A-Name", "value": map[string]any{}})
	ws.wantError("invalid_visitor_data", "r2")
	// Bad ids are rejected in the ack, next to a stored event.
	good, badID := b.event("PageEntered", nil), b.event("PageEntered", nil)
	badID["eventId"] = "not-a-ulid"
	ws.send(events(good, badID))
	ids, rejected := ws.ack()
	if !sameSet(ids, []string{good["eventId"].(string)}) || rejected["not-a-ulid"] == "" {
		t.Fatalf("ack %v rejected %v, want %s acknowledged and not-a-ulid rejected", ids, rejected, good["eventId"])
	}
}

// testWSRefusals: what the collector refuses before or instead of a
// conversation, with the HTTP status or close code docs/protocol.md#websocket gives.
func (s *suite) testWSRefusals(t *testing.T) {
	t.Run("Origin", func(t *testing.T) {
		_, resp, err := s.dialWS(t, http.Header{"Origin": {"http://elsewhere.example"}}, subprotocol)
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial from an origin not allowed: %v (answer %v), want 403", err, resp)
		}
	})
	t.Run("Subprotocol", func(t *testing.T) {
		ws, _, err := s.dialWS(t, nil)
		if err != nil {
			t.Fatalf("dial without a subprotocol: %v, want the upgrade and then close 1008", err)
		}
		ws.wantClose(websocket.StatusPolicyViolation)
	})
	t.Run("HelloFirst", func(t *testing.T) {
		ws, _, err := s.dialWS(t, nil, subprotocol)
		if err != nil {
			t.Fatal(err)
		}
		b := newBrowser()
		ws.send(events(b.event("PageEntered", nil)))
		ws.wantClose(websocket.StatusPolicyViolation)
	})
	t.Run("TextFirst", func(t *testing.T) {
		ws, _, err := s.dialWS(t, nil, subprotocol)
		if err != nil {
			t.Fatal(err)
		}
		ws.write(websocket.MessageBinary, []byte(toJSON(t, newBrowser().hello())))
		ws.wantClose(websocket.StatusUnsupportedData)
	})
	t.Run("HelloTimeout", func(t *testing.T) {
		ws, _, err := s.dialWS(t, nil, subprotocol)
		if err != nil {
			t.Fatal(err)
		}
		ws.wantClose(websocket.StatusPolicyViolation) // after 10 s without hello
	})
	t.Run("TooBig", func(t *testing.T) {
		b := newBrowser()
		ws, _ := s.open(t, b)
		big := bytes.Repeat([]byte(" "), 1<<20+1)
		copy(big, `{"type":"events","events":[]}`)
		ws.write(websocket.MessageText, big)
		ws.wantClose(websocket.StatusMessageTooBig)
	})
}

// testWSSignIn: a proven SignIn over the socket answers identity (verified,
// with its id and a token) before the ack, then the identity's document,
// and the identity's writes are pushed from then on; after SignOut the
// socket holds the visitor's document again and hears nothing more of the
// identity.
func (s *suite) testWSSignIn(t *testing.T) {
	userID := "wssignin+" + s.run + "@example.com"
	identityID := s.signIn(t, newBrowser(), userID)
	v := s.patchData(t, "identities/"+identityID, "crm", `{"tier":"gold"}`)

	b := newBrowser()
	ws, _ := s.open(t, b)
	e := b.event("SignIn", s.proven(userID, nil))
	ws.send(events(e))
	id := ws.want("identity")
	if id["state"] != "authenticated" || id["verified"] != true || id["identityId"] != identityID {
		t.Fatalf("identity frame %v, want authenticated, verified, identity %s", id, identityID)
	}
	if tok, _ := id["recognition"].(string); tok == "" {
		t.Fatalf("identity frame %v without a recognition token", id)
	}
	if ids, _ := ws.ack(); !sameSet(ids, []string{e["eventId"].(string)}) {
		t.Fatalf("ack %v, want the SignIn %s", ids, e["eventId"])
	}
	ws.wantPush(v, "gold", "crm", "tier")
	v = s.patchData(t, "identities/"+identityID, "crm", `{"tier":"platinum"}`)
	ws.wantPush(v, "platinum", "crm", "tier")

	out := b.event("SignOut", nil)
	ws.send(events(out))
	id = ws.want("identity")
	if id["state"] != "anonymous" || id["identityId"] != nil || id["verified"] != false {
		t.Fatalf("identity frame after SignOut %v, want anonymous, identityId null", id)
	}
	ws.ack()
	m := ws.want("visitorData")
	if strings.Contains(toJSON(t, m), "platinum") {
		t.Fatalf("after SignOut the socket holds %v, want the visitor's document", m)
	}
	s.patchData(t, "identities/"+identityID, "crm", `{"tier":"diamond"}`)
	vv := s.patchData(t, "visitors/"+b.visitorID, "prefs", `{"lang":"de"}`)
	// Had the identity's write reached the socket, it would come first.
	ws.wantPush(vv, "de", "prefs", "lang")
}
