package live

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

const (
	helloTimeout = 10 * time.Second
	writeTimeout = 10 * time.Second
	// maxQueuedPushes bounds the visitor-data versions waiting for a slow
	// connection; past it the oldest are dropped (the newest always goes).
	maxQueuedPushes = 32
)

// conn is one tracker's WebSocket connection.
type conn struct {
	hub    *Hub
	ws     *websocket.Conn
	client ingest.Client
	visit  ingest.Visit

	subject string // guarded by hub.mu

	pushMu  sync.Mutex
	queue   []pushItem
	pushing bool
	sent    map[string]int64 // subject key → last version sent
}

type pushItem struct {
	subject   string
	vd        *collector.VisitorData
	requestID string
	// snapshot marks the document of a subject the browser just switched
	// to: it goes out even if its version is not newer.
	snapshot bool
}

// ServeWS serves GET /v1/ws.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	if !h.originAllowed(r) {
		writeProblem(w, http.StatusForbidden, "origin_not_allowed", "this origin may not connect; see --allowed-origins")
		return
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{protocol.Subprotocol},
		// The Origin was checked above against --allowed-origins.
		InsecureSkipVerify: true,
		CompressionMode:    websocket.CompressionDisabled,
	})
	if err != nil {
		return // Accept has written the HTTP error
	}
	if ws.Subprotocol() != protocol.Subprotocol {
		ws.Close(websocket.StatusPolicyViolation, "subprotocol "+protocol.Subprotocol+" is required")
		return
	}
	ws.SetReadLimit(protocol.MaxBatchBytes)
	c := &conn{hub: h, ws: ws, sent: map[string]int64{}}
	if !h.register(c) {
		ws.Close(websocket.StatusGoingAway, "collector shutting down")
		return
	}
	defer h.unregister(c)
	c.client.UserAgent = r.UserAgent()
	c.client.IP = clientIP(r)
	err = c.serve(r.Context())
	switch status := websocket.CloseStatus(err); {
	case status != -1, errors.Is(err, context.Canceled), errors.Is(err, net.ErrClosed):
	default:
		h.cfg.Logger.Debug("websocket closed", "err", err)
	}
}

// serve runs the conversation: hello first, then frames in order. Each
// events frame is acknowledged after its commit.
func (c *conn) serve(ctx context.Context) error {
	helloCtx, cancel := context.WithTimeout(ctx, helloTimeout)
	typ, frame, err := c.ws.Read(helloCtx)
	cancel()
	if err != nil {
		if helloCtx.Err() != nil && ctx.Err() == nil {
			c.ws.Close(websocket.StatusPolicyViolation, "hello expected within 10s")
		}
		return err
	}
	if typ != websocket.MessageText {
		return c.ws.Close(websocket.StatusUnsupportedData, "frames are JSON text")
	}
	var f ingest.Frame
	if err := ingest.DecodeFrame(frame, &f); err != nil || f.Type != protocol.TypeHello {
		return c.ws.Close(websocket.StatusPolicyViolation, "the first frame must be hello")
	}
	if err := c.hello(ctx, &f); err != nil {
		return err
	}
	for {
		typ, frame, err := c.ws.Read(ctx)
		if err != nil {
			return err
		}
		if typ != websocket.MessageText {
			c.writeError(ctx, protocol.CodeInvalidMessage, "frames are JSON text", "")
			continue
		}
		if err := ingest.DecodeFrame(frame, &f); err != nil {
			c.writeFrameError(ctx, err, "")
			continue
		}
		switch f.Type {
		case protocol.TypeEvents:
			err = c.events(ctx, &f)
		case protocol.TypeVisitorDataUpdate:
			err = c.updateVisitorData(ctx, &f)
		case protocol.TypeHello:
			err = c.hello(ctx, &f)
		default:
			c.writeError(ctx, protocol.CodeUnknownType, "unknown frame type "+quote(f.Type), "")
		}
		if err != nil {
			return err
		}
	}
}

// hello settles the visit and answers welcome.
func (c *conn) hello(ctx context.Context, m *ingest.Frame) error {
	c.client.VisitorID, c.client.VisitID, c.client.Recognition = m.VisitorID, m.VisitID, m.Recognition
	if len(m.URL) <= protocol.MaxURLLen && len(m.Referrer) <= protocol.MaxURLLen {
		c.client.URL, c.client.Referrer = m.URL, m.Referrer
	}
	res, err := c.hub.cfg.Ingester.Collect(ctx, c.client, "", nil)
	if err != nil {
		return c.closeInternal(err)
	}
	c.adopt(res.Visit)
	return c.welcome(ctx)
}

// adopt makes v the connection's visit: later frames name it.
func (c *conn) adopt(v ingest.Visit) {
	c.visit = v
	c.client.VisitorID, c.client.VisitID, c.client.Recognition = v.VisitorID, v.VisitID, v.Recognition
	c.client.URL, c.client.Referrer = "", ""
}

func (c *conn) welcome(ctx context.Context) error {
	v := c.visit
	w := protocol.Welcome{
		Type: protocol.TypeWelcome, VisitorID: v.VisitorID, VisitID: v.VisitID,
		State: v.State, Verified: v.Verified, Recognition: v.Recognition,
		VisitorData: c.hub.visitorData(ctx, v),
	}
	if v.IdentityID != "" {
		id := v.IdentityID
		w.IdentityID = &id
	}
	w.VisitorData.Type = ""
	subject := v.Subject().Key()
	c.pushMu.Lock()
	c.sent[subject] = max(c.sent[subject], w.VisitorData.Version)
	c.pushMu.Unlock()
	c.hub.subscribe(c, subject)
	return c.write(ctx, &w)
}

// events stores a batch and acknowledges it after the commit.
func (c *conn) events(ctx context.Context, f *ingest.Frame) error {
	prev := c.visit
	res, err := c.hub.cfg.Ingester.Collect(ctx, c.client, f.SentAt, f.Events)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		// Nothing of the batch was stored and no ack is sent: the tracker
		// keeps the events and sends them again.
		c.hub.cfg.Logger.Error("collect", "visit", c.client.VisitID, "err", err)
		code, msg := protocol.CodeInternal, "events were not stored; send them again"
		if collector.ErrorCode(err) == collector.EUNAVAILABLE {
			code, msg = "unavailable", collector.ErrorMessage(err)
		}
		c.writeError(ctx, code, msg, "")
		return nil
	}
	c.adopt(res.Visit)
	if res.NewVisit {
		// The old visit ended: the tracker must adopt the new one.
		if err := c.welcome(ctx); err != nil {
			return err
		}
	}
	// identity before ack: when the tracker settles a SignIn's promise on
	// the ack, it already holds the new state and token.
	if res.IdentityChanged && !res.NewVisit {
		if err := c.write(ctx, res.Visit.IdentityMessage()); err != nil {
			return err
		}
	}
	if err := c.write(ctx, &res.Ack); err != nil {
		return err
	}
	if subject := res.Visit.Subject(); subject != prev.Subject() && !res.NewVisit {
		c.hub.subscribe(c, subject.Key())
		vd := res.VisitorData
		if vd == nil {
			view := c.hub.visitorData(ctx, res.Visit)
			vd = &collector.VisitorData{Subject: subject, Version: view.Version, Data: json.RawMessage(view.Data)}
		}
		c.enqueuePush(pushItem{subject: subject.Key(), vd: vd, snapshot: true})
	}
	return nil
}

// updateVisitorData writes one browser-writable namespace of the
// connection's own subject.
func (c *conn) updateVisitorData(ctx context.Context, m *ingest.Frame) error {
	if !protocol.ValidNamespace(m.Namespace) {
		c.writeError(ctx, protocol.CodeInvalidVisitorData, "namespace must match ^[a-z][a-z0-9_]{0,63}$", m.RequestID)
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
// order; one already sent is not sent again unless it answers a request or
// is a new subject's snapshot.
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
		c.pushMu.Lock()
		if len(c.queue) == 0 {
			c.pushing = false
			c.pushMu.Unlock()
			return
		}
		it := c.queue[0]
		c.queue = c.queue[1:]
		stale := it.vd.Version <= c.sent[it.subject] && it.requestID == "" && !it.snapshot
		if !stale {
			c.sent[it.subject] = max(c.sent[it.subject], it.vd.Version)
		}
		c.pushMu.Unlock()
		if stale {
			continue
		}
		c.hub.mu.Lock()
		current := c.subject == it.subject
		c.hub.mu.Unlock()
		if !current && it.requestID == "" && !it.snapshot {
			continue // the browser's identity changed since
		}
		m := protocol.VisitorDataView{Type: protocol.TypeVisitorData, Version: it.vd.Version,
			Data: protocol.RawJSON(it.vd.Data), RequestID: it.requestID}
		if err := c.write(context.Background(), &m); err != nil {
			c.pushMu.Lock()
			c.queue, c.pushing = nil, false
			c.pushMu.Unlock()
			return
		}
	}
}

func (c *conn) write(ctx context.Context, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *conn) writeError(ctx context.Context, code, msg, requestID string) {
	c.write(ctx, &protocol.Error{Type: protocol.TypeError, Code: code, Message: msg, RequestID: requestID})
}

func (c *conn) writeFrameError(ctx context.Context, err error, requestID string) {
	var fe *ingest.FrameError
	if errors.As(err, &fe) {
		c.writeError(ctx, fe.Code, fe.Message, requestID)
		return
	}
	c.writeError(ctx, protocol.CodeInvalidMessage, err.Error(), requestID)
}

func (c *conn) closeInternal(err error) error {
	c.hub.cfg.Logger.Error("websocket hello", "err", err)
	if collector.ErrorCode(err) == collector.EUNAVAILABLE {
		return c.ws.Close(websocket.StatusGoingAway, "collector shutting down")
	}
	return c.ws.Close(websocket.StatusInternalError, "internal error")
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
