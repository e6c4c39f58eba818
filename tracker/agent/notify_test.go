package agent

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// heard records the notifications one listener was given.
type heard struct{ got []protocol.Notification }

func (h *heard) Notification(n *protocol.Notification) { h.got = append(h.got, *n) }

// Every listener hears every notification frame, in order; a frame that
// the collector would never send (no id or channel) is dropped, and data
// left out arrives as null.
func TestNotifications(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	first, second := &heard{}, &heard{}
	a.Push(Command{Op: OpNotifications, Listener: first})
	a.Push(Command{Op: OpNotifications}) // no listener: ignored
	welcome(t, e, protocol.Welcome{})
	a.Push(Command{Op: OpNotifications, Listener: second})
	s := e.lastSocket()
	for _, n := range []protocol.Notification{
		{ID: "01KA0000000000000000000001", Channel: "chat", Data: protocol.RawJSON(`{"text":"hi"}`)},
		{ID: "", Channel: "chat", Data: protocol.RawJSON(`1`)},
		{ID: "01KA0000000000000000000002", Channel: "", Data: protocol.RawJSON(`2`)},
		{ID: "01KA0000000000000000000003", Channel: "offer"},
	} {
		s.ev.Message(&Message{Type: protocol.TypeNotification, Notification: n})
	}
	for name, h := range map[string]*heard{"first": first, "second": second} {
		if len(h.got) != 2 || h.got[0].Channel != "chat" || string(h.got[0].Data) != `{"text":"hi"}` ||
			h.got[1].ID != "01KA0000000000000000000003" || string(h.got[1].Data) != "null" {
			t.Errorf("%s listener heard %+v", name, h.got)
		}
	}
	// Notifications change nothing else: no frame goes back.
	before := len(s.sent)
	s.ev.Message(&Message{Type: protocol.TypeNotification, Notification: protocol.Notification{ID: "01KA0000000000000000000004", Channel: "chat"}})
	if len(s.sent) != before {
		t.Errorf("a notification made the tracker send %v", s.sent[before:])
	}
}

// A listener subscribed before the tracker started hears the
// notifications that come after its start.
func TestNotificationListenerBeforeStart(t *testing.T) {
	e := newEnv(t)
	a := New(e, ConfigPatch{})
	h := &heard{}
	a.Push(Command{Op: OpNotifications, Listener: h})
	a.Push(Command{Op: OpConfig, Config: ConfigPatch{Collector: ptr("https://collector.example/")}})
	a.Ready()
	welcome(t, e, protocol.Welcome{})
	e.lastSocket().ev.Message(&Message{Type: protocol.TypeNotification,
		Notification: protocol.Notification{ID: "01KA0000000000000000000001", Channel: "chat", Data: protocol.RawJSON(`"x"`)}})
	if len(h.got) != 1 || string(h.got[0].Data) != `"x"` {
		t.Fatalf("heard %+v", h.got)
	}
}
