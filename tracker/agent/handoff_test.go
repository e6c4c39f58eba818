package agent

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// TestHandoffPresentedOnce: a token the loader took from the address goes
// in the first hello only.
func TestHandoffPresentedOnce(t *testing.T) {
	e := newEnv(t)
	e.page.Handoff = "h1.token.mac"
	a := start(t, e, ConfigPatch{})
	hello := welcome(t, e, protocol.Welcome{})
	if hello.Handoff != "h1.token.mac" {
		t.Fatalf("hello %+v", hello)
	}
	a.disconnect()
	a.connect()
	if hello = welcome(t, e, protocol.Welcome{}); hello.Handoff != "" {
		t.Fatalf("second hello presented the token again: %+v", hello)
	}
}

// TestHandoffOverHTTP: without a WebSocket the first /v1/collect carries
// the token, and decorate asks POST /v1/handoff.
func TestHandoffOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.page.Handoff = "h1.token.mac"
	a := start(t, e, ConfigPatch{Transport: ptr(TransportHTTP)})
	e.Advance(0)
	var req protocol.CollectRequest
	decode(t, e.posts[0].body, &req)
	if req.Handoff != "h1.token.mac" {
		t.Fatalf("first collect %+v", req)
	}
	e.posts[0].done(&protocol.CollectResponse{VisitorID: a.visitorID, VisitID: a.visitID}, nil)
	if a.handoff != "" {
		t.Fatal("the token is kept after the collector answered")
	}

	r := &recorder{}
	a.Push(Command{Op: OpDecorate, Reply: r})
	p := e.posts[len(e.posts)-1]
	if p.url != "https://collector.example/v1/handoff" {
		t.Fatalf("decorate posted to %s", p.url)
	}
	var hr protocol.HandoffRequest
	decode(t, p.body, &hr)
	if hr.VisitorID != a.visitorID || hr.VisitID != a.visitID {
		t.Fatalf("handoff request %+v", hr)
	}
	p.done(&protocol.CollectResponse{Token: "h1.fresh"}, nil)
	if len(r.resolved) != 1 || r.resolved[0] != "h1.fresh" {
		t.Fatalf("resolved %v", r.resolved)
	}
}

// TestDecorateOverWebSocket: decorate asks the collector for a token with
// a handoff frame and resolves with the answer of the same requestId;
// before consent it resolves with none and sends nothing.
func TestDecorateOverWebSocket(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	s := e.lastSocket()
	r1, r2 := &recorder{}, &recorder{}
	a.Push(Command{Op: OpDecorate, Reply: r1})
	a.Push(Command{Op: OpDecorate, Reply: r2})
	var f1, f2 protocol.Handoff
	decode(t, s.sent[len(s.sent)-2], &f1)
	decode(t, s.sent[len(s.sent)-1], &f2)
	if f1.Type != protocol.TypeHandoff || f1.RequestID == "" || f1.RequestID == f2.RequestID {
		t.Fatalf("frames %+v %+v", f1, f2)
	}
	s.ev.Message(&Message{Type: protocol.TypeHandoff, Handoff: protocol.Handoff{RequestID: f2.RequestID, Token: "h1.two"}})
	s.ev.Message(&Message{Type: protocol.TypeHandoff, Handoff: protocol.Handoff{RequestID: "unknown", Token: "h1.x"}})
	if len(r1.resolved) != 0 || len(r2.resolved) != 1 || r2.resolved[0] != "h1.two" {
		t.Fatalf("r1 %v r2 %v", r1.resolved, r2.resolved)
	}

	e2 := newEnv(t)
	b := start(t, e2, ConfigPatch{RequireConsent: ptr(true)})
	r := &recorder{}
	b.Push(Command{Op: OpDecorate, Reply: r})
	if len(r.resolved) != 1 || r.resolved[0] != "" || len(e2.posts) != 0 || len(e2.socks) != 0 {
		t.Fatalf("before consent: resolved %v, posts %d", r.resolved, len(e2.posts))
	}
}
