package agent

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/cookie"
)

// TestOtherTabFollowsSignIn: two tabs of one visit; the first signs in and
// keeps the token. The second, before it next sends, reads the token from
// the cookie and starts a new conversation that presents it (a verified
// visit goes on only for a connection that proves it), then sends its
// event there.
func TestOtherTabFollowsSignIn(t *testing.T) {
	e := newEnv(t)
	first := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	tab1 := e.lastSocket()
	second := start(t, e, ConfigPatch{})
	hello := welcome(t, e, protocol.Welcome{})
	tab2 := e.lastSocket()
	if hello.Recognition != nil || first.visitID != second.visitID {
		t.Fatalf("the second tab's hello %+v: want the same visit, no token", hello)
	}

	tok, id := "tok-ada", "01JD000000000000000000IDNT"
	tab1.ev.Message(&Message{Type: protocol.TypeIdentity, Identity: protocol.Identity{State: protocol.StateAuthenticated,
		IdentityID: &id, Verified: true, Recognition: &tok}})
	if e.cookie(cookie.User) != tok {
		t.Fatal("the first tab did not keep the token")
	}

	second.Push(Command{Op: OpEvent, Name: "Click", Data: "{}"})
	e.Advance(1)
	if !tab2.closed || e.lastSocket() == tab2 {
		t.Fatal("the second tab kept its conversation after the other signed in")
	}
	again := welcome(t, e, protocol.Welcome{Recognition: &tok, State: protocol.StateAuthenticated, IdentityID: &id, Verified: true})
	if again.Recognition == nil || *again.Recognition != tok || again.VisitID != first.visitID {
		t.Fatalf("the second tab's new hello %+v: want the visit with the token", again)
	}
	if evs := sentEvents(t, e.lastSocket()); len(evs) == 0 || evs[len(evs)-1].Name != "Click" {
		t.Fatalf("the second tab's event after the new welcome: %+v", evs)
	}
	// The first tab, which made the change, goes on as it was.
	first.Push(Command{Op: OpEvent, Name: "Browse", Data: "{}"})
	e.Advance(1)
	if tab1.closed {
		t.Fatal("the tab that signed in reconnected")
	}
}
