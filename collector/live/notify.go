package live

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// notifyTimeout bounds the wait for one page's socket to take a
// notification: a stalled browser must not hold the backend's request.
const notifyTimeout = 5 * time.Second

var _ collector.Notifier = (*Hub)(nil)

// visitIndex finds the open connections of a visit. A connection enters it
// when it adopts a visit (after its welcome is settled) and leaves it when
// it adopts another or ends.
type visitIndex struct {
	mu     sync.Mutex
	visits map[string]map[*conn]struct{} // visitId → connections
	of     map[*conn]string              // connection → its visitId
}

func (x *visitIndex) set(c *conn, visitID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.visits == nil {
		x.visits, x.of = map[string]map[*conn]struct{}{}, map[*conn]string{}
	}
	x.removeLocked(c)
	set := x.visits[visitID]
	if set == nil {
		set = map[*conn]struct{}{}
		x.visits[visitID] = set
	}
	set[c] = struct{}{}
	x.of[c] = visitID
}

func (x *visitIndex) remove(c *conn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.removeLocked(c)
}

func (x *visitIndex) removeLocked(c *conn) {
	id, ok := x.of[c]
	if !ok {
		return
	}
	delete(x.of, c)
	if set := x.visits[id]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(x.visits, id)
		}
	}
}

// ids returns the visits that have a connection.
func (x *visitIndex) ids() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]string, 0, len(x.visits))
	for id := range x.visits {
		out = append(out, id)
	}
	return out
}

func (x *visitIndex) conns(visitID string) []*conn {
	x.mu.Lock()
	defer x.mu.Unlock()
	out := make([]*conn, 0, len(x.visits[visitID]))
	for c := range x.visits[visitID] {
		out = append(out, c)
	}
	return out
}

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
