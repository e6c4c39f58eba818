package live

import (
	"context"
	"net/http"
	"strconv"
	"sync"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Socket is what a conversation needs of its WebSocket to answer: a
// coder/websocket connection natively, a Durable Object's socket at the
// edge (collector/edge). Frames come in through the transport's own
// reading (ServeWS) or Session.Frame.
type Socket interface {
	// Write sends one frame; the conversation only sends text frames.
	Write(ctx context.Context, typ websocket.MessageType, p []byte) error
	// Close ends the conversation with a close code and a reason.
	Close(code websocket.StatusCode, reason string) error
}

var _ Socket = (*websocket.Conn)(nil)

// Session is a browser's conversation whose frames a transport that owns
// the reading hands in one at a time: the edge's Durable Object, which
// receives each frame as an event (the WebSocket hibernation API). It
// follows the very rules of ServeWS (hello first, validation, identity,
// rate limits, ack after the commit, pushes), since both drive the same
// connection.
type Session struct {
	c *conn
	// mu keeps frames one at a time, in the order the caller hands them
	// in; hello tells whether the first frame was seen.
	mu       sync.Mutex
	hello    bool
	ended    bool
	released bool // End gave back the socket's slot
}

// HelloTimeout is how long a socket may wait before its hello: then it
// is closed with 1008 and HelloTimeoutReason. A transport that hands
// frames in (Session) keeps the time itself.
const (
	HelloTimeout       = helloTimeout
	HelloTimeoutReason = "hello expected within 10s"
)

// SubprotocolRequired is the close reason (with 1008) for a socket that
// did not ask for the protocol's subprotocol, sent after the upgrade as
// ServeWS does.
const SubprotocolRequired = subprotocolRequired

// OpenSession checks an upgrade request as ServeSocket does, before the
// caller accepts it: an address over MaxSocketsPerIP gets its 429 problem
// on w and ok false, an origin not allowed its 403. Otherwise the handshake's cookies (first-party mode) are on w's
// header for the caller's 101 answer, and the session answers on sock.
// The caller then hands it every frame (Frame) and tells it when the
// socket is gone (End).
func (h *Hub) OpenSession(w http.ResponseWriter, r *http.Request, sock Socket) (s *Session, ok bool) {
	ip := h.clientIP(r)
	if !h.sockets.admit(ip) {
		h.refuseSocket(w)
		return nil, false
	}
	hs, ok := h.handshake(w, r)
	if !ok {
		h.sockets.release(ip)
		return nil, false
	}
	c := h.newConn(sock, r, hs)
	if !h.register(c) {
		h.sockets.release(ip)
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "collector shutting down")
		return nil, false
	}
	return &Session{c: c}, true
}

// Frame handles one frame, text or binary, as ServeWS handles what it
// reads: the first must be hello. It returns false once the conversation
// is over: the session closed the socket (a broken rule, with its close
// code), a write to it failed, or ctx ended; the caller then calls End.
func (s *Session) Frame(ctx context.Context, text bool, frame []byte) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	var err error
	switch {
	case len(frame) > protocol.MaxBatchBytes:
		// ServeWS's read limit answers the same code.
		err = s.c.close(websocket.StatusMessageTooBig, "a frame is at most "+strconv.Itoa(protocol.MaxBatchBytes)+" bytes")
	case !s.hello:
		s.hello = true
		err = s.c.first(ctx, text, frame)
	default:
		err = s.c.next(ctx, text, frame)
	}
	if err != nil {
		s.ended = true
		return false
	}
	return true
}

// errClosed stands for "the conversation closed the socket" where Close
// itself reported no error (see conn.close).
var errClosed = &closedError{}

type closedError struct{}

func (*closedError) Error() string { return "live: the session closed its socket" }

// End forgets the session: its socket is closed or lost. Pushes and
// notifications no longer reach it.
func (s *Session) End() {
	s.mu.Lock()
	released := s.released
	s.ended, s.released = true, true
	s.mu.Unlock()
	if released {
		return
	}
	s.c.hub.unregister(s.c)
	s.c.hub.sockets.release(s.c.client.IP)
}
