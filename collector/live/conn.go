package live

import (
	"bytes"
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
)

// conn is one tracker's WebSocket connection.
type conn struct {
	hub    *Hub
	ws     Socket
	req    *http.Request // the handshake: where a key cookie would come from
	client ingest.Client
	visit  ingest.Visit
	// fp and jar: in first-party mode, the collector's cookies as the
	// handshake carried them, and then as the tracker was told to store
	// them (see welcome).
	fp  firstParty
	jar jar

	// f is the frame being handled, reused from frame to frame.
	f ingest.Frame

	// sendMu orders the frames that carry visitor data (welcome, the
	// snapshot of a subject the browser switches to, pushes) and guards
	// last: a switch subscribes, reads and sends its snapshot under it,
	// so that no push of the subject goes out before the snapshot and
	// none committed after the read is lost.
	sendMu sync.Mutex
	last   *collector.VisitorData // the document of subject the browser holds

	pushMu  sync.Mutex
	queue   []pushItem
	pushing bool
}

// ServeWS serves GET /v1/ws.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request) {
	hs, ok := h.handshake(w, r)
	if !ok {
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
		ws.Close(websocket.StatusPolicyViolation, subprotocolRequired)
		return
	}
	ws.SetReadLimit(protocol.MaxBatchBytes)
	c := h.newConn(ws, r, hs)
	if !h.register(c) {
		ws.Close(websocket.StatusGoingAway, "collector shutting down")
		return
	}
	defer h.unregister(c)
	err = c.serve(r.Context(), ws)
	switch status := websocket.CloseStatus(err); {
	case status != -1, err == errClosed, errors.Is(err, context.Canceled), errors.Is(err, net.ErrClosed):
	default:
		h.cfg.Logger.Debug("websocket closed", "err", err)
	}
}

// subprotocolRequired is the close reason for a socket that did not ask
// for the protocol's subprotocol.
const subprotocolRequired = "subprotocol " + protocol.Subprotocol + " is required"

// handshakeState is what the upgrade request settled: the first-party
// cookie mode and the cookies it carried.
type handshakeState struct {
	fp firstParty
	j  jar
}

// handshake checks an upgrade request before it is accepted: an origin
// not allowed gets a 403 problem on w (and ok false). In first-party
// cookie mode the cookies for the handshake's answer go on w.
func (h *Hub) handshake(w http.ResponseWriter, r *http.Request) (hs handshakeState, ok bool) {
	if !h.originAllowed(r) {
		writeProblem(w, http.StatusForbidden, "origin_not_allowed", "this origin may not connect; see --allowed-origins")
		return hs, false
	}
	if q := r.URL.Query(); wantsServerCookies(q.Get("cookies")) {
		if hs.fp = h.firstParty(r, q.Get("cookieDomain")); hs.fp.on {
			hs.j = readJar(r)
			h.handshakeCookies(w, hs.fp, &hs.j)
		}
	}
	return hs, true
}

// newConn is the connection of an accepted upgrade request r.
func (h *Hub) newConn(ws Socket, r *http.Request, hs handshakeState) *conn {
	c := &conn{hub: h, ws: ws, req: r, fp: hs.fp, jar: hs.j}
	c.client.UserAgent = r.UserAgent()
	c.client.IP = h.clientIP(r)
	return c
}

// serve runs the conversation: hello first, then frames in order. Each
// events frame is acknowledged after its commit.
func (c *conn) serve(ctx context.Context, ws *websocket.Conn) error {
	// Not a deadline on Read: coder/websocket drops the connection when
	// a read's context ends, and the tracker would see no close code.
	late := time.AfterFunc(helloTimeout, func() {
		c.ws.Close(websocket.StatusPolicyViolation, HelloTimeoutReason)
	})
	typ, frame, err := ws.Read(ctx)
	if !late.Stop() {
		return errClosed
	}
	if err != nil {
		return err
	}
	if err := c.first(ctx, typ == websocket.MessageText, frame); err != nil {
		return err
	}
	// After the hello, frames are read into one buffer, kept from frame
	// to frame: the frame is done with when next returns (what outlives
	// it is copied out). An idle socket, which sent only its hello, keeps
	// no buffer.
	var buf bytes.Buffer
	for {
		typ, r, err := ws.Reader(ctx)
		if err != nil {
			return err
		}
		if buf.Cap() > maxKeptFrame {
			buf = bytes.Buffer{} // a big batch does not stay
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return err
		}
		if err := c.next(ctx, typ == websocket.MessageText, buf.Bytes()); err != nil {
			return err
		}
	}
}

// maxKeptFrame is the largest read buffer a socket keeps between frames.
const maxKeptFrame = 64 << 10

// first handles the conversation's first frame, which must be hello. An
// error ends the conversation (the socket is closed, with the reason).
func (c *conn) first(ctx context.Context, text bool, frame []byte) error {
	if !text {
		return c.close(websocket.StatusUnsupportedData, "frames are JSON text")
	}
	f := &c.f
	if err := ingest.DecodeFrame(frame, f); err != nil || f.Type != protocol.TypeHello {
		return c.close(websocket.StatusPolicyViolation, "the first frame must be hello")
	}
	if ok, _ := c.hub.limiter.take(c.client.IP, 1, time.Now()); !ok {
		return c.close(websocket.StatusTryAgainLater, c.hub.rateLimitMessage())
	}
	return c.hello(ctx, f)
}

// next handles a frame after the hello. Bad input gets an error frame; an
// error ends the conversation (the socket is closed, with the reason).
func (c *conn) next(ctx context.Context, text bool, frame []byte) error {
	if !text {
		c.writeError(ctx, protocol.CodeInvalidMessage, "frames are JSON text", "")
		return nil
	}
	f := &c.f
	if err := ingest.DecodeFrame(frame, f); err != nil {
		c.writeFrameError(ctx, err, "")
		return nil
	}
	// Events count one each; every other frame (hello, a visitor-data
	// update, an empty batch) counts one: see ipLimiter.
	if ok, _ := c.hub.limiter.take(c.client.IP, len(f.Events), time.Now()); !ok {
		// Nothing of the frame is stored: the tracker keeps the
		// unacknowledged events and reconnects after its backoff.
		return c.close(websocket.StatusTryAgainLater, c.hub.rateLimitMessage())
	}
	switch f.Type {
	case protocol.TypeEvents:
		return c.events(ctx, f)
	case protocol.TypeVisitorDataUpdate:
		return c.updateVisitorData(ctx, f)
	case protocol.TypeHello:
		return c.hello(ctx, f)
	case protocol.TypeHandoff:
		return c.handoff(ctx, f)
	default:
		c.writeError(ctx, protocol.CodeUnknownType, "unknown frame type "+quote(f.Type), "")
		return nil
	}
}

// hello settles the visit and answers welcome.
func (c *conn) hello(ctx context.Context, m *ingest.Frame) error {
	c.client.VisitorID, c.client.VisitID, c.client.Recognition = m.VisitorID, m.VisitID, m.Recognition
	c.client.NoRecognize = m.Recognize != nil && !*m.Recognize
	c.client.VisitorKey = presentedKey(c.req, m.VisitorKey)
	c.client.Cookieless, c.client.Site = m.Cookieless || gpcWithholds(c.req, m.Consent), c.req.Header.Get("Origin")
	if len(m.URL) <= protocol.MaxURLLen && len(m.Referrer) <= protocol.MaxURLLen {
		c.client.URL, c.client.Referrer = m.URL, m.Referrer
	}
	if c.fp.on {
		c.jar.apply(&c.client)
	}
	c.hub.redeemHandoff(ctx, m.Handoff, &c.client)
	res, err := c.hub.cfg.Ingester.Collect(ctx, c.client, "", nil)
	if err != nil {
		return c.closeInternal(err)
	}
	c.adopt(res.Visit)
	return c.welcome(ctx)
}

// maxHeld bounds the tokens a connection remembers for SignOut to revoke.
const maxHeld = 4

// adopt makes v the connection's visit: later frames name it. A token
// replaced by another (a SignIn after recognition) is remembered, so that
// SignOut revokes every token the browser held on the connection; SignOut
// itself (no token) forgets them, having revoked them.
func (c *conn) adopt(v ingest.Visit) {
	old := c.client.Recognition
	switch {
	case v.Recognition == nil:
		c.client.Held = nil
	case old != nil && *old != *v.Recognition && len(c.client.Held) < maxHeld:
		c.client.Held = append(c.client.Held, *old)
	}
	c.visit = v
	c.hub.visits.set(c, v.VisitID)
	c.client.VisitorID, c.client.VisitID, c.client.Recognition = v.VisitorID, v.VisitID, v.Recognition
	c.client.VisitorKey = v.VisitorKey
	// The landing page and the handoff belong to the hello's visit alone.
	c.client.URL, c.client.Referrer, c.client.HandoffFrom = "", "", nil
}

func (c *conn) welcome(ctx context.Context) error {
	v := c.visit
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	w := protocol.Welcome{
		Type: protocol.TypeWelcome, VisitorID: v.VisitorID, VisitorKey: v.VisitorKey, VisitID: v.VisitID,
		State: v.State, IdentityID: v.BrowserIdentityID(), Verified: v.Verified, Recognition: v.Recognition,
		VisitorData: c.switchSubject(ctx, v),
	}
	w.VisitorData.Type = ""
	if c.fp.on && !v.Cookieless {
		// The handshake's cookies are right when they name this visitor,
		// key and token; else the tracker posts them to /v1/cookies, and
		// only then do the key and token reach the script.
		rec := ""
		if v.Recognition != nil {
			rec = *v.Recognition
		}
		if c.jar.visitorID == v.VisitorID && c.jar.key == v.VisitorKey && c.jar.token == rec {
			w.Cookies, w.Recognition, w.VisitorKey = protocol.CookiesServer, nil, ""
		} else {
			w.Cookies = protocol.CookiesSync
			c.jar.visitorID, c.jar.key, c.jar.token = v.VisitorID, v.VisitorKey, rec
		}
	}
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
		if collector.ErrorCode(err) == collector.ESTORAGEFULL {
			// 1013: the tracker reconnects after its backoff. The writer
			// logs the outage, at most once per 10 s.
			return c.close(websocket.StatusTryAgainLater, "disk full: events not stored, send them again later")
		}
		c.hub.cfg.Logger.Error("collect", "visit", c.client.VisitID, "err", err)
		code, msg := protocol.CodeInternal, "events were not stored; send them again"
		if collector.ErrorCode(err) == collector.EUNAVAILABLE {
			code, msg = "unavailable", collector.ErrorMessage(err)
		}
		c.writeError(ctx, code, msg, "")
		return nil
	}
	if res.Late {
		// Events of the connection's visit that ended meanwhile, made
		// before its end: stored there, and nothing else changes. The next
		// frame opens the browser's new visit (and welcome says so).
		return c.write(ctx, &res.Ack)
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
		// The tracker posts the new token (or its deletion) to
		// /v1/cookies; the next hello on this connection must not
		// present the old one.
		c.jar.token = ""
		if res.Visit.Recognition != nil {
			c.jar.token = *res.Visit.Recognition
		}
		if err := c.write(ctx, res.Visit.IdentityMessage()); err != nil {
			return err
		}
	}
	if err := c.write(ctx, &res.Ack); err != nil {
		return err
	}
	if res.IdentityChanged {
		c.hub.identityChanged(res.Visit, c)
	}
	if res.Visit.Subject() != prev.Subject() && !res.NewVisit {
		// The browser now sees another subject (a SignIn, a SignOut): its
		// document goes out at once. Read after subscribing, not taken
		// from the stitch, which a backend's write may have followed.
		c.sendMu.Lock()
		defer c.sendMu.Unlock()
		view := c.switchSubject(ctx, res.Visit)
		return c.write(ctx, &view)
	}
	return nil
}

func (c *conn) write(ctx context.Context, v any) error {
	var b []byte
	if a, ok := v.(*protocol.Ack); ok {
		b, ok = appendAck(make([]byte, 0, ackSize(a)), a)
		if !ok {
			b = nil
		}
	}
	if b == nil {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
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
	if collector.ErrorCode(err) == collector.ESTORAGEFULL {
		return c.close(websocket.StatusTryAgainLater, "disk full: try again later")
	}
	c.hub.cfg.Logger.Error("websocket hello", "err", err)
	if collector.ErrorCode(err) == collector.EUNAVAILABLE {
		return c.close(websocket.StatusGoingAway, "collector shutting down")
	}
	return c.close(websocket.StatusInternalError, "internal error")
}

// close ends the conversation with a close code and reason. Its error is
// never nil, so that the caller's loop ends even after a clean close.
func (c *conn) close(code websocket.StatusCode, reason string) error {
	if err := c.ws.Close(code, reason); err != nil {
		return err
	}
	return errClosed
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	b, _ := json.Marshal(s)
	return string(b)
}
