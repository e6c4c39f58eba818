package agent

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// TestRefusedSignInRejects: a SignIn the collector stored but refused (a
// placeholder userId) rejects its promise with the collector's code at
// once, leaves the outbox, and changes nothing of the identity.
func TestRefusedSignInRejects(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	s := e.lastSocket()
	r := &recorder{}
	a.Push(Command{Op: OpEvent, Name: protocol.EventSignIn, Data: `{"userId":"guest"}`, Reply: r})
	e.Advance(0)
	evs := sentEvents(t, s)
	id := evs[len(evs)-1].EventID
	s.ev.Message(&Message{Type: protocol.TypeAck, Ack: protocol.Ack{EventIDs: []string{id},
		Refused: []protocol.Rejection{{EventID: id, Code: protocol.CodeBlockedUserID, Message: "placeholder"}}}})
	if len(r.rejected) != 1 || r.rejected[0] != protocol.CodeBlockedUserID || len(r.resolved) != 0 {
		t.Fatalf("SignIn reply %+v, want rejected with %s", r, protocol.CodeBlockedUserID)
	}
	if a.ob.Has(id) {
		t.Fatal("a stored, refused SignIn is still queued")
	}
	e.Advance(2000) // no identity wait resolves it later
	if len(r.resolved) != 0 || len(r.rejected) != 1 {
		t.Fatalf("SignIn reply settled again: %+v", r)
	}
	if ids := a.IDs(); ids.State != protocol.StateAnonymous || ids.IdentityID != "" {
		t.Fatalf("ids after a refused SignIn %+v", ids)
	}
}
