package live

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Subscriptions: each welcomed connection receives the visitor data of one
// subject (its visit's identity, or else its visitor), and a committed
// write of that subject's document is pushed to it. The hub keeps them by
// subject key in subs, under Hub.mu; a connection's own push loop decides
// what it sends (conn.sendPush).

// subscribe moves c to the subject's group: pushes of that subject reach
// it from now on, and those of the one it held before no longer do. A
// connection that has ended stays out: its push loop may still be
// demoting it (sendDemotion) after unregister, and would otherwise leave
// it in subs for good.
func (h *Hub) subscribe(c *conn, subject string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, open := h.conns[c]; !open {
		return
	}
	h.subs.move(c, subject)
}

// subjectOf returns the key of the subject c receives, "" before its
// first subscription and after it ended.
func (h *Hub) subjectOf(c *conn) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, _ := h.subs.key(c)
	return k
}

// VisitorDataChanged pushes a committed change to the subject's open
// connections. It never blocks on a connection.
func (h *Hub) VisitorDataChanged(vd *collector.VisitorData) {
	h.pushLocal(vd)
	if h.cfg.Peers != nil {
		h.cfg.Peers.VisitorDataChanged(vd.Subject, vd.Version)
	}
}

// pushLocal pushes a change to this hub's connections of its subject.
func (h *Hub) pushLocal(vd *collector.VisitorData) {
	key := vd.Subject.Key()
	for _, c := range h.subscribers(key) {
		c.push(key, vd)
	}
}

// subscribers returns the connections of a subject, so that the caller can
// reach them without holding mu.
func (h *Hub) subscribers(key string) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs.members(key)
}

// SubjectErased makes the subject's open connections send the document
// as it is stored now. Erasure deletes it, and the versions of the next
// writes start again from 1, which the connections would otherwise take
// for old versions and not push.
func (h *Hub) SubjectErased(s collector.Subject) {
	h.subjectErased(s)
	if h.cfg.Peers != nil {
		h.cfg.Peers.SubjectErased(s)
	}
}

// subjectErased resyncs this hub's connections of the erased subject.
func (h *Hub) subjectErased(s collector.Subject) {
	key := s.Key()
	for _, c := range h.subscribers(key) {
		c.enqueuePush(pushItem{subject: key, resync: &s})
	}
}

// read returns the subject's stored document.
func (h *Hub) read(ctx context.Context, s collector.Subject) (*collector.VisitorData, error) {
	if h.cfg.VisitorData == nil {
		return &collector.VisitorData{Subject: s, Data: json.RawMessage("{}")}, nil
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(ctx, s)
	if err != nil {
		h.logReadError(ctx, s, err)
	}
	return vd, err
}

// logReadError logs a failed read of visitor data: an error, unless the
// edge's collect decided from a kept visit (ingest.Speculative), whose
// batch, the read included, fails when the visit changed meanwhile and
// runs again; each visit that ends would log an error otherwise.
func (h *Hub) logReadError(ctx context.Context, s collector.Subject, err error) {
	level := slog.LevelError
	if ingest.Speculative(ctx) {
		level = slog.LevelDebug
	}
	h.cfg.Logger.Log(ctx, level, "read visitor data", "subject", s.Key(), "err", err)
}

// visitorData returns the snapshot the browser of v may see.
func (h *Hub) visitorData(ctx context.Context, v ingest.Visit) protocol.VisitorDataView {
	view := protocol.VisitorDataView{Type: protocol.TypeVisitorData, Data: protocol.RawJSON("{}")}
	if h.cfg.VisitorData == nil || v.Cookieless {
		return view // a cookieless visit has no visitor data
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(ctx, v.Subject())
	if err != nil {
		h.logReadError(ctx, v.Subject(), err)
		return view
	}
	view.Version, view.Data = vd.Version, protocol.RawJSON(vd.Data)
	return view
}

// hasSubscribers reports whether a connection here receives the subject,
// without copying the group as subscribers does.
func (h *Hub) hasSubscribers(key string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.subs.count(key) > 0
}
