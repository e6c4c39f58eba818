package agent

import (
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// Offer frames reach the offer listeners only, and plain notifications the
// notification listeners only: a page that shows every notification must
// not show an invitation it never asked for. An offer without an offerId
// or a channel is not one the collector sends, and is dropped.
func TestOffersGoToOfferListeners(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	offers, notes := &heard{}, &heard{}
	a.Push(Command{Op: OpOffers, Listener: offers})
	a.Push(Command{Op: OpOffers}) // no listener: ignored
	a.Push(Command{Op: OpNotifications, Listener: notes})
	welcome(t, e, protocol.Welcome{})
	s := e.lastSocket()
	frame := `{"type":"notification","kind":"offer","offerId":"01KA0000000000000000000001","ruleId":"r1","channel":"chat","data":{"text":"Need help?"},"expiresAt":"2026-11-21T10:00:30Z"}`
	s.ev.Message(&Message{Type: TypeOffer, Notification: protocol.Notification{ID: "01KA0000000000000000000001", Channel: "chat", Data: protocol.RawJSON(frame)}})
	s.ev.Message(&Message{Type: TypeOffer, Notification: protocol.Notification{ID: "", Channel: "chat", Data: protocol.RawJSON(frame)}})
	s.ev.Message(&Message{Type: TypeOffer, Notification: protocol.Notification{ID: "01KA0000000000000000000002"}})
	s.ev.Message(&Message{Type: protocol.TypeNotification, Notification: protocol.Notification{ID: "01KA0000000000000000000003", Channel: "chat", Data: protocol.RawJSON(`1`)}})
	if len(offers.got) != 1 || offers.got[0].ID != "01KA0000000000000000000001" || offers.got[0].Channel != "chat" || string(offers.got[0].Data) != frame {
		t.Errorf("offer listener heard %+v", offers.got)
	}
	if len(notes.got) != 1 || notes.got[0].ID != "01KA0000000000000000000003" {
		t.Errorf("notification listener heard %+v", notes.got)
	}
}

// An offer listener subscribed before the tracker started hears the offers
// that come after its start.
func TestOfferListenerBeforeStart(t *testing.T) {
	e := newEnv(t)
	a := New(e, ConfigPatch{})
	h := &heard{}
	a.Push(Command{Op: OpOffers, Listener: h})
	a.Push(Command{Op: OpConfig, Config: ConfigPatch{Collector: ptr("https://collector.example/")}})
	a.Ready()
	welcome(t, e, protocol.Welcome{})
	e.lastSocket().ev.Message(&Message{Type: TypeOffer,
		Notification: protocol.Notification{ID: "01KA0000000000000000000001", Channel: "chat", Data: protocol.RawJSON(`{}`)}})
	if len(h.got) != 1 {
		t.Fatalf("heard %+v", h.got)
	}
}

func TestOfferOpName(t *testing.T) {
	if ParseOp("subscribe.offer") != OpOffers || OpOffers.String() != "subscribe.offer" {
		t.Errorf("subscribe.offer is op %d, OpOffers is %q", ParseOp("subscribe.offer"), OpOffers.String())
	}
}
