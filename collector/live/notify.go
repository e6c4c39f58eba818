package live

import (
	"context"
	"encoding/json"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// notifyTimeout bounds the wait for one page's socket to take a
// notification: a stalled browser must not hold the backend's request.
const notifyTimeout = 5 * time.Second

var _ collector.Notifier = (*Hub)(nil)

// Notify sends a notification frame to every open WebSocket of the visit,
// all at once, and returns how many took it within notifyTimeout (or ctx).
// A page whose write fails is not counted; its connection ends as any
// failed write ends it. With Peers, the pages connected to the other
// nodes count too, as many as reported within the peers' bounded wait.
func (h *Hub) Notify(ctx context.Context, n *collector.Notification) (int, error) {
	if h.cfg.Peers == nil {
		return h.notifyLocal(ctx, n)
	}
	type result struct {
		n   int
		err error
	}
	remote := make(chan result, 1)
	go func() {
		d, err := h.cfg.Peers.Notify(ctx, n)
		remote <- result{d, err}
	}()
	local, err := h.notifyLocal(ctx, n)
	r := <-remote
	if err != nil {
		return local, err
	}
	return local + r.n, r.err
}

// notifyLocal is Notify for this hub's own sockets.
func (h *Hub) notifyLocal(ctx context.Context, n *collector.Notification) (int, error) {
	msg := protocol.Notification{Type: protocol.TypeNotification,
		ID: n.ID, Channel: n.Channel, Data: protocol.RawJSON(n.Data)}
	if n.Offer != nil {
		msg.Kind, msg.OfferID, msg.RuleID = protocol.KindOffer, n.ID, n.Offer.RuleID
		msg.ExpiresAt = n.Offer.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	frame, err := json.Marshal(&msg)
	if err != nil {
		return 0, err
	}
	targets := h.visits.conns(n.VisitID)
	if len(targets) == 0 {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	ok := make(chan bool, len(targets))
	for _, c := range targets {
		go func() { ok <- c.writeRaw(ctx, frame) == nil }()
	}
	delivered := 0
	for range targets {
		if <-ok {
			delivered++
		}
	}
	return delivered, nil
}

// writeRaw sends an encoded frame. coder/websocket allows writes from
// several goroutines; frames never interleave.
func (c *conn) writeRaw(ctx context.Context, frame []byte) error {
	return c.ws.Write(ctx, websocket.MessageText, frame)
}
