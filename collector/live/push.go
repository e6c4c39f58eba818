package live

import (
	"context"
	"encoding/json"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The visitor data a socket holds: the browser's writes of its own
// namespaces, and the pushes of committed changes, which a socket sends
// from its own goroutine in version order, so that a slow browser never
// blocks the writer of a change.

// maxQueuedPushes bounds the visitor-data versions waiting for a slow
// connection; past it the oldest are dropped (the newest always goes).
const maxQueuedPushes = 32

// pushItem is one frame queued for a socket's push loop.
type pushItem struct {
	subject   string
	vd        *collector.VisitorData
	requestID string
	// resync (with vd nil) sends the subject's document as stored now,
	// whatever its version: after an erasure the versions start again.
	resync *collector.Subject
	// demote (with vd nil) moves the socket to this visitor subject: its
	// visit's identity changed in another tab (see identityChanged).
	demote *collector.Subject
}

// switchSubject subscribes the connection to v's subject, then reads that
// subject's document: a write committed before the subscription is in the
// document, one committed after it is pushed (after the document, since
// the caller holds sendMu until it has sent it).
func (c *conn) switchSubject(ctx context.Context, v ingest.Visit) protocol.VisitorDataView {
	subject := v.Subject()
	key := subject.Key()
	if v.Cookieless {
		// No subject: a key of its own that no write ever names.
		key = "cookieless:" + v.VisitID
	}
	c.hub.subscribe(c, key)
	view := c.hub.visitorData(ctx, v)
	c.last = &collector.VisitorData{Subject: subject, Version: view.Version, Data: json.RawMessage(view.Data)}
	return view
}

// updateVisitorData writes one browser-writable namespace of the
// connection's own subject.
func (c *conn) updateVisitorData(ctx context.Context, m *ingest.Frame) error {
	if !protocol.ValidNamespace(m.Namespace) {
		c.writeError(ctx, protocol.CodeInvalidVisitorData, "namespace must match ^[a-z][a-z0-9_]{0,63}$", m.RequestID)
		return nil
	}
	if c.visit.Cookieless {
		c.writeError(ctx, protocol.CodeNamespaceNotWritable, "a cookieless visit has no visitor data", m.RequestID)
		return nil
	}
	if !c.hub.writable[m.Namespace] || c.hub.cfg.VisitorData == nil {
		c.writeError(ctx, protocol.CodeNamespaceNotWritable, "browsers may not write namespace "+quote(m.Namespace), m.RequestID)
		return nil
	}
	subject := c.visit.Subject()
	vd, err := c.hub.cfg.VisitorData.PutNamespace(ctx, subject, m.Namespace, json.RawMessage(m.Value))
	if err != nil {
		code := protocol.CodeInvalidVisitorData
		if collector.ErrorCode(err) == collector.EINTERNAL {
			code = protocol.CodeInternal
			c.hub.cfg.Logger.Error("browser visitor-data update", "subject", subject.Key(), "err", err)
		}
		c.writeError(ctx, code, collector.ErrorMessage(err), m.RequestID)
		return nil
	}
	c.enqueuePush(pushItem{subject: subject.Key(), vd: vd, requestID: m.RequestID})
	return nil
}

// push queues a committed change of the subject for this connection.
func (c *conn) push(subject string, vd *collector.VisitorData) {
	c.enqueuePush(pushItem{subject: subject, vd: vd})
}

// enqueuePush queues a visitor-data frame and sends it from a goroutine, so
// a slow browser never blocks the writer of the change. Versions go out in
// order: see sendPush.
func (c *conn) enqueuePush(it pushItem) {
	c.pushMu.Lock()
	defer c.pushMu.Unlock()
	if len(c.queue) >= maxQueuedPushes {
		c.queue = append(c.queue[:0], c.queue[1:]...)
	}
	c.queue = append(c.queue, it)
	if !c.pushing {
		c.pushing = true
		go c.pushLoop()
	}
}

func (c *conn) pushLoop() {
	for {
		c.sendMu.Lock()
		c.pushMu.Lock()
		if len(c.queue) == 0 {
			c.pushing = false
			c.pushMu.Unlock()
			c.sendMu.Unlock()
			return
		}
		it := c.queue[0]
		c.queue = c.queue[1:]
		c.pushMu.Unlock()
		err := c.sendPush(it)
		c.sendMu.Unlock()
		if err != nil {
			c.pushMu.Lock()
			c.queue, c.pushing = nil, false
			c.pushMu.Unlock()
			return
		}
	}
}

// sendPush sends a queued change, under sendMu, if it is of the subject
// the browser holds and newer than the document it holds. The answer to
// an update always goes, so that the tracker settles it, but never with an
// older document than the browser has (a backend's write may have been
// pushed meanwhile) nor another subject's (the browser may have signed in
// since): then it carries the document the browser holds.
func (c *conn) sendPush(it pushItem) error {
	if it.demote != nil {
		return c.sendDemotion(*it.demote)
	}
	current := c.hub.subjectOf(c) == it.subject
	if it.resync != nil {
		if !current {
			return nil
		}
		// Read under sendMu: a write committed after the read is pushed
		// after this, with a higher version.
		vd, err := c.hub.read(context.Background(), *it.resync)
		if err != nil {
			return nil
		}
		c.last = vd
		return c.write(context.Background(), &protocol.VisitorDataView{Type: protocol.TypeVisitorData,
			Version: vd.Version, Data: protocol.RawJSON(vd.Data)})
	}
	vd := it.vd
	if !current || c.last == nil || vd.Version <= c.last.Version {
		if it.requestID == "" || c.last == nil {
			return nil
		}
		vd = c.last
	}
	c.last = vd
	m := protocol.VisitorDataView{Type: protocol.TypeVisitorData, Version: vd.Version,
		Data: protocol.RawJSON(vd.Data), RequestID: it.requestID}
	return c.write(context.Background(), &m)
}
