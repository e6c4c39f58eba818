package edge_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/visitrack/visitrack/collector/edge"
)

// socketsHost stands in for the Durable Object of glue/sockets.mjs in the
// native tests: one Go collector that lives across requests, as the
// object's Go instance does, holding the sockets of /v1/ws through
// edge.Sockets exactly as the object drives them (Open, then Frame for
// each frame in order, Closed), with the object's own duties (the hello
// timer, 1011 for a socket its instance does not know). The Worker's
// fresh instances announce to it through Announce.
type socketsHost struct {
	sockets *edge.Sockets
}

func newSocketsHost(t *testing.T, db *sql.DB, env map[string]string) *socketsHost {
	t.Helper()
	host := &socketsHost{}
	_, err := edge.New(context.Background(), db, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler),
		edge.WithSessions(&host.sockets), edge.WithSockets(host.Announce))
	if err != nil {
		t.Fatal(err)
	}
	return host
}

// Announce is the glue's announce() with one object.
func (h *socketsHost) Announce(ctx context.Context, body []byte) (int, error) {
	return h.sockets.Announced(ctx, body)
}

// lateSocket is a socket the object hands to Open before it accepts it.
type lateSocket struct {
	mu sync.Mutex
	ws *websocket.Conn
}

func (s *lateSocket) conn() *websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ws
}

func (s *lateSocket) Write(ctx context.Context, typ websocket.MessageType, p []byte) error {
	return s.conn().Write(ctx, typ, p)
}

func (s *lateSocket) Close(code websocket.StatusCode, reason string) error {
	return s.conn().Close(code, reason)
}

// ServeHTTP is the object's fetch() for an upgrade of /v1/ws.
func (h *socketsHost) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sock := &lateSocket{}
	o := h.sockets.Open(r.Clone(r.Context()), sock)
	for _, kv := range o.Header {
		w.Header().Add(kv[0], kv[1])
	}
	if o.ID == "" && o.CloseCode == 0 {
		w.WriteHeader(o.Status)
		w.Write([]byte(o.Body))
		return
	}
	opts := &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled}
	if o.Protocol != "" {
		opts.Subprotocols = []string{o.Protocol}
	}
	ws, err := websocket.Accept(w, r, opts)
	if err != nil {
		h.sockets.Closed(o.ID)
		return
	}
	// The Workers runtime takes frames up to 1 MiB and more; the rules
	// on their size are Go's.
	ws.SetReadLimit(4 << 20)
	sock.mu.Lock()
	sock.ws = ws
	sock.mu.Unlock()
	if o.CloseCode != 0 {
		ws.Close(websocket.StatusCode(o.CloseCode), o.CloseReason)
		return
	}
	late := time.AfterFunc(time.Duration(o.HelloTimeout)*time.Millisecond, func() {
		ws.Close(websocket.StatusPolicyViolation, o.HelloClose)
	})
	defer late.Stop()
	ctx := context.WithoutCancel(r.Context())
	for {
		typ, frame, err := ws.Read(r.Context())
		if err != nil {
			h.sockets.Closed(o.ID)
			return
		}
		late.Stop()
		if !h.sockets.Frame(ctx, o.ID, typ == websocket.MessageText, frame) {
			ws.Close(websocket.StatusInternalError, "the collector lost this connection's state; connect again")
			return
		}
	}
}

// TestSocketUnknownToGo: a frame of a socket whose Go session is gone (a
// Durable Object evicted, or its Go instance replaced) is refused, so that
// the object closes it with 1011 and the tracker connects again; a socket
// that closed is forgotten.
func TestSocketUnknownToGo(t *testing.T) {
	env := map[string]string{
		edge.EnvAdminToken:     "vt_edge-sqlite-admin-0123456789",
		edge.EnvRecognitionKey: "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7",
		edge.EnvAllowedOrigins: "http://shop.example",
	}
	db, _, _ := freshWorker(t, env)
	host := newSocketsHost(t, db, env)
	ctx := context.Background()
	if host.sockets.Frame(ctx, "0123456789abcdef0123456789abcdef", true, []byte(`{"type":"hello"}`)) {
		t.Fatal("a frame of a socket no session knows was taken")
	}
	r, _ := http.NewRequest("GET", "http://edge.example/v1/ws", nil)
	r.Header.Set("Origin", "http://shop.example")
	r.Header.Set("Sec-WebSocket-Protocol", "visitrack.v1")
	o := host.sockets.Open(r, &lateSocket{})
	if o.ID == "" || o.Status != http.StatusSwitchingProtocols || o.Protocol != "visitrack.v1" || host.sockets.Len() != 1 {
		t.Fatalf("Open answered %+v with %d sessions, want a session answering visitrack.v1", o, host.sockets.Len())
	}
	host.sockets.Closed(o.ID)
	if host.sockets.Len() != 0 || host.sockets.Frame(ctx, o.ID, true, []byte(`{"type":"hello"}`)) {
		t.Fatal("a closed socket's session is still known")
	}
}

// TestSocketsWithoutBinding: without the Durable Object binding (an old
// wrangler.jsonc), the Worker hands no upgrade on, and /v1/ws says why.
func TestSocketsWithoutBinding(t *testing.T) {
	env := map[string]string{
		edge.EnvRecognitionKey: "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7",
		edge.EnvAllowedOrigins: "http://shop.example",
	}
	db, _, _ := freshWorker(t, env)
	h, err := edge.New(context.Background(), db, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("GET", "/v1/ws", nil)
	r.Header.Set("Origin", "http://shop.example")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Upgrade", "websocket")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	if w.Code != http.StatusNotImplemented || !strings.Contains(w.Body.String(), "transport") {
		t.Fatalf("/v1/ws without the binding: %d %s, want 501 naming the http transport", w.Code, w.Body)
	}
}

// TestShardsSetting: VISITRACK_WS_SHARDS is a number of Durable Objects
// from 1 to 32; anything else stops the Worker with a message that names
// it, rather than the glue quietly using one.
func TestShardsSetting(t *testing.T) {
	for v, ok := range map[string]bool{"": true, "1": true, "32": true, " 4 ": true, "0": false, "33": false, "x": false, "-1": false} {
		env := map[string]string{
			edge.EnvRecognitionKey: "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7",
			edge.EnvWSShards:       v,
		}
		_, err := edge.LoadSettings(func(k string) string { return env[k] })
		if ok != (err == nil) || (err != nil && !strings.Contains(err.Error(), edge.EnvWSShards)) {
			t.Errorf("%s=%q: %v, want ok %v (an error naming the setting)", edge.EnvWSShards, v, err, ok)
		}
	}
}
