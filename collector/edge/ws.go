package edge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/coder/websocket"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/settings"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The edge's WebSockets (docs/edge.md#websockets-through-a-durable-object). The
// Worker hands each upgrade of /v1/ws to a Durable Object (glue/sockets.mjs),
// which runs a Go instance of its own: the same program, whose hub (package
// live) holds that object's sockets as the native collector's holds its
// own. The object accepts each socket with the hibernation API and hands
// its frames, one at a time, to the Go instance's Sockets (below), which
// feeds them to a live.Session: the native rules, unchanged. The socket's
// attachment keeps the session's id and state, so that a new Go instance
// resumes the session when the platform evicted the object (hibernation)
// while its sockets stayed open.
//
// Visitor-data writes, erasures and notifications happen wherever a
// request lands (a Worker, or a Durable Object for a browser's own
// update): an Announcer takes them to every Durable Object that may hold
// a socket of the subject, whose hub pushes them to the sockets entitled
// to them.

// EnvWSShards is read by the glue (glue/announce.mjs): the number of
// Durable Objects the WebSockets are spread over, 1 (the default) to
// maxShards.
const (
	EnvWSShards = "VISITRACK_WS_SHARDS"
	maxShards   = 32
)

// The limits of the sockets, as the native collector's --rate-limit and
// --max-sockets-per-ip (same defaults). They hold in the Durable Objects:
// all sockets of one client address are in one object (glue/announce.mjs
// picks it by address), whose hub counts them as the native one does.
// /v1/collect, which keeps nothing between requests, is not limited.
const (
	EnvRateLimit       = settings.EnvRateLimit
	EnvMaxSocketsPerIP = settings.EnvMaxSocketsPerIP
)

func checkShards(v string) error {
	if v = strings.TrimSpace(v); v == "" {
		return nil
	}
	if n, err := strconv.Atoi(v); err != nil || n < 1 || n > maxShards {
		return fmt.Errorf("%s %q: want a number of Durable Objects from 1 to %d", EnvWSShards, v, maxShards)
	}
	return nil
}

// Announcer sends an announcement (JSON, see announcement) to every
// Durable Object that holds WebSockets and returns the sum of what they
// answered: the pages a notification reached.
type Announcer func(ctx context.Context, body []byte) (delivered int, err error)

// SocketVisits asks every Durable Object that holds WebSockets for the
// visits of its sockets, for /v1/live (the glue's openVisits).
type SocketVisits func(ctx context.Context) ([]string, error)

// WithSockets serves /v1/ws through Durable Objects: the collector
// announces its visitor-data changes, erasures and notifications with a,
// and /v1/live counts the visits v names as connected, as natively.
// Without it /v1/ws answers 501.
func WithSockets(a Announcer, v SocketVisits) Option {
	return func(h *handler) { h.announce, h.socketVisits = a, v }
}

// WithSessions makes New store in *dst the Sockets of its hub, for the
// Durable Object's Go instance; that hub applies the socket limits
// (EnvRateLimit, EnvMaxSocketsPerIP).
func WithSessions(dst **Sockets) Option { return func(h *handler) { h.sessions = dst } }

// announcement is what an Announcer carries: one of a visitor-data
// change, an erasure or a notification.
type announcement struct {
	Kind    string       `json:"kind"` // "visitorData", "erased" or "notify"
	Subject *subjectJSON `json:"subject,omitempty"`
	// Key (the subject's) or VisitID tell the Durable Object which
	// sockets to resume before it hands the announcement on.
	Key          string            `json:"key,omitempty"`
	VisitID      string            `json:"visitId,omitempty"`
	Version      int64             `json:"version,omitempty"`
	Data         json.RawMessage   `json:"data,omitempty"`
	Notification *notificationJSON `json:"notification,omitempty"`
}

type subjectJSON struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

type notificationJSON struct {
	ID      string          `json:"id"`
	VisitID string          `json:"visitId"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
}

// relay is the server's Sockets on the edge: it announces, and asks.
type relay struct {
	announce Announcer
	visits   SocketVisits
	log      *slog.Logger
}

// OpenVisits asks the Durable Objects which visits have a WebSocket.
func (r *relay) OpenVisits(ctx context.Context) ([]string, error) {
	if r.visits == nil {
		return nil, errors.New("edge: WithSockets was given no way to ask the Durable Objects for their visits")
	}
	return r.visits(ctx)
}

func (r *relay) send(ctx context.Context, a *announcement) (int, error) {
	body, err := json.Marshal(a)
	if err != nil {
		return 0, err
	}
	return r.announce(ctx, body)
}

// VisitorDataChanged announces a committed change. It waits for the
// Durable Objects to take it, so that the request that wrote it is still
// running (a Worker's work ends with its answer).
func (r *relay) VisitorDataChanged(vd *collector.VisitorData) {
	_, err := r.send(context.Background(), &announcement{Kind: "visitorData", Key: vd.Subject.Key(),
		Subject: &subjectJSON{vd.Subject.Kind, vd.Subject.ID}, Version: vd.Version, Data: vd.Data})
	if err != nil {
		r.log.Error("edge: announce a visitor-data change to the sockets", "subject", vd.Subject.Key(), "err", err)
	}
}

func (r *relay) SubjectErased(s collector.Subject) {
	if _, err := r.send(context.Background(), &announcement{Kind: "erased", Key: s.Key(), Subject: &subjectJSON{s.Kind, s.ID}}); err != nil {
		r.log.Error("edge: announce an erasure to the sockets", "subject", s.Key(), "err", err)
	}
}

func (r *relay) Notify(ctx context.Context, n *collector.Notification) (int, error) {
	return r.send(ctx, &announcement{Kind: "notify", VisitID: n.VisitID, Notification: &notificationJSON{
		ID: n.ID, VisitID: n.VisitID, Channel: n.Channel, Data: n.Data}})
}

// Sockets are the WebSocket sessions of one Durable Object's Go instance,
// by the id the object keeps in each socket's attachment.
type Sockets struct {
	hub *live.Hub
	log *slog.Logger

	mu       sync.Mutex
	sessions map[string]*live.Session
}

func newSockets(hub *live.Hub, log *slog.Logger) *Sockets {
	return &Sockets{hub: hub, log: log, sessions: map[string]*live.Session{}}
}

// Opened is the answer to an upgrade request, for the Durable Object: a
// refusal (ID empty, CloseCode 0) to send as it is, or a socket to accept
// with the Status 101 headers in Header, answering Protocol, under ID;
// CloseCode, if set, closes it at once (as ServeWS closes a socket that
// did not ask for the subprotocol).
type Opened struct {
	ID          string     `json:"id,omitempty"`
	Status      int        `json:"status"`
	Header      [][]string `json:"header"`
	Body        string     `json:"body,omitempty"`
	Protocol    string     `json:"protocol,omitempty"`
	CloseCode   int        `json:"closeCode,omitempty"`
	CloseReason string     `json:"closeReason,omitempty"`
	// HelloTimeout (ms) and HelloClose: the socket is closed with 1008
	// and that reason if no frame came within that time, as natively.
	HelloTimeout int64  `json:"helloTimeout,omitempty"`
	HelloClose   string `json:"helloClose,omitempty"`
}

// Open checks an upgrade request of /v1/ws as the native collector does
// (origin, first-party cookies) and, when it may proceed, opens a session
// answering on sock.
func (s *Sockets) Open(r *http.Request, sock live.Socket) *Opened {
	setClientAddr(r)
	buf := NewBufferedResponse(http.Header{})
	if !offers(r.Header, protocol.Subprotocol) {
		if !s.hubAllows(buf, r) {
			return opened(buf)
		}
		return &Opened{Status: http.StatusSwitchingProtocols, Header: [][]string{},
			CloseCode: int(websocket.StatusPolicyViolation), CloseReason: live.SubprotocolRequired}
	}
	sess, ok := s.hub.OpenSession(buf, r, sock)
	if !ok {
		return opened(buf)
	}
	id := newSessionID()
	s.mu.Lock()
	s.sessions[id] = sess
	s.mu.Unlock()
	o := opened(buf)
	o.ID, o.Status, o.Protocol = id, http.StatusSwitchingProtocols, protocol.Subprotocol
	o.HelloTimeout, o.HelloClose = live.HelloTimeout.Milliseconds(), live.HelloTimeoutReason
	return o
}

// hubAllows runs the hub's checks of the upgrade without opening a
// session: a refusal is on w.
func (s *Sockets) hubAllows(w http.ResponseWriter, r *http.Request) bool {
	sess, ok := s.hub.OpenSession(w, r, noSocket{})
	if ok {
		sess.End()
	}
	return ok
}

// noSocket stands in for a socket that will not be used.
type noSocket struct{}

func (noSocket) Write(context.Context, websocket.MessageType, []byte) error {
	return errors.New("edge: no socket")
}
func (noSocket) Close(websocket.StatusCode, string) error { return nil }

func opened(b *BufferedResponse) *Opened {
	o := &Opened{Status: b.Status, Header: [][]string{}, Body: b.Body.String()}
	for k, vs := range b.Header() {
		for _, v := range vs {
			o.Header = append(o.Header, []string{k, v})
		}
	}
	return o
}

// offers reports whether the request asks for subprotocol p.
func offers(h http.Header, p string) bool {
	for _, v := range h.Values("Sec-WebSocket-Protocol") {
		for f := range strings.SplitSeq(v, ",") {
			if strings.TrimSpace(f) == p {
				return true
			}
		}
	}
	return false
}

func newSessionID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Attachment is what the Durable Object keeps in a socket's attachment
// (serializeAttachment, at most maxAttachment bytes as JSON): the id of
// its session and, once it can be resumed, the session's state, which the
// object also reads to find the sockets an announcement concerns.
type Attachment struct {
	ID    string             `json:"id"`
	State *live.SessionState `json:"state,omitempty"`
}

const maxAttachment = 2048

// attachment is the JSON of the session's attachment; without the state
// if it has none to give or would not fit.
func attachment(id string, sess *live.Session) []byte {
	a := Attachment{ID: id}
	if st, ok := sess.State(); ok {
		a.State = &st
	}
	b, _ := json.Marshal(a)
	if len(b) > maxAttachment {
		b, _ = json.Marshal(Attachment{ID: id})
	}
	return b
}

// session returns the session of the socket whose attachment is att,
// resuming it on sock from the attachment's state when this instance does
// not hold it (the object was evicted, or its instance replaced); resumed
// tells which.
func (s *Sockets) session(ctx context.Context, att []byte, sock live.Socket) (id string, sess *live.Session, resumed bool, err error) {
	var a Attachment
	if err := json.Unmarshal(att, &a); err != nil || a.ID == "" {
		return "", nil, false, fmt.Errorf("edge: a socket's attachment %.64q", att)
	}
	s.mu.Lock()
	sess = s.sessions[a.ID]
	s.mu.Unlock()
	if sess != nil {
		return a.ID, sess, false, nil
	}
	if a.State == nil {
		return "", nil, false, errors.New("edge: the socket's session is gone and cannot be resumed")
	}
	sess, err = s.hub.ResumeSession(ctx, *a.State, sock)
	if err != nil {
		return "", nil, false, fmt.Errorf("edge: resume a socket's session: %w", err)
	}
	s.mu.Lock()
	if held := s.sessions[a.ID]; held != nil {
		// Resumed meanwhile by another event of the same socket.
		s.mu.Unlock()
		sess.End()
		return a.ID, held, false, nil
	}
	s.sessions[a.ID] = sess
	s.mu.Unlock()
	return a.ID, sess, true, nil
}

// Frame hands a frame to the session of the socket whose attachment is
// att (see session) and returns the attachment to keep. It fails when the
// session is neither held nor resumable: the Durable Object then closes
// the socket with 1011, and the tracker connects again.
func (s *Sockets) Frame(ctx context.Context, att []byte, sock live.Socket, text bool, frame []byte) ([]byte, error) {
	id, sess, _, err := s.session(ctx, att, sock)
	if err != nil {
		return nil, err
	}
	if !sess.Frame(ctx, text, frame) {
		s.Closed(id)
	}
	return attachment(id, sess), nil
}

// Resume makes sure this instance holds the session of the socket whose
// attachment is att, before an announcement that concerns it. It returns
// the attachment to keep, or nil to keep the one there is: a session
// this instance holds may be in the middle of a frame (the frame's own
// write may be what is announced), and the frame's end updates it.
func (s *Sockets) Resume(ctx context.Context, att []byte, sock live.Socket) ([]byte, error) {
	id, sess, resumed, err := s.session(ctx, att, sock)
	if err != nil || !resumed {
		return nil, err
	}
	return attachment(id, sess), nil
}

// Closed forgets the session of a socket that closed or failed.
func (s *Sockets) Closed(id string) {
	s.mu.Lock()
	sess := s.sessions[id]
	delete(s.sessions, id)
	s.mu.Unlock()
	if sess != nil {
		sess.End()
	}
}

// Len returns the number of open sessions.
func (s *Sockets) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// Announced hands an announcement to the hub, which pushes it to the
// sockets entitled to it, and returns how many pages a notification
// reached.
func (s *Sockets) Announced(ctx context.Context, body []byte) (int, error) {
	var a announcement
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, fmt.Errorf("edge: announcement: %w", err)
	}
	switch {
	case a.Kind == "visitorData" && a.Subject != nil:
		s.hub.VisitorDataChanged(&collector.VisitorData{
			Subject: collector.Subject{Kind: a.Subject.Kind, ID: a.Subject.ID}, Version: a.Version, Data: a.Data})
		return 0, nil
	case a.Kind == "erased" && a.Subject != nil:
		s.hub.SubjectErased(collector.Subject{Kind: a.Subject.Kind, ID: a.Subject.ID})
		return 0, nil
	case a.Kind == "notify" && a.Notification != nil:
		n := a.Notification
		return s.hub.Notify(ctx, &collector.Notification{ID: n.ID, VisitID: n.VisitID, Channel: n.Channel, Data: n.Data})
	}
	return 0, fmt.Errorf("edge: announcement of kind %q is incomplete", a.Kind)
}
