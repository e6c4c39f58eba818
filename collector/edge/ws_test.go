package edge_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/edge"
)

// socketsHost stands in for the Durable Object of glue/sockets.mjs in the
// native tests: a Go collector that lives across requests, as the
// object's Go instance does, holding the sockets of /v1/ws through
// edge.Sockets exactly as the object drives them (Open; Frame for each
// frame in order, keeping the attachment it returns; Resume of the
// sockets an announcement concerns; Closed), with the object's own duties
// (the hello timer, 1011 when Go cannot go on with a socket). Evict
// replaces its Go instance while the sockets stay open, as the platform
// does to an idle object. The Worker's fresh instances announce to it
// through Announce.
type socketsHost struct {
	t   *testing.T
	db  *sql.DB
	env map[string]string

	mu      sync.Mutex
	sockets *edge.Sockets
	open    map[*lateSocket]bool
	// busy is held (shared) while a frame is handed to Go and its
	// attachment kept: the platform evicts only an idle object, so Evict
	// waits for frames in flight. Without it a frame that an old instance
	// finishes after the eviction would keep its stale attachment over
	// the one a resume kept meanwhile.
	busy sync.RWMutex
}

func newSocketsHost(t *testing.T, db *sql.DB, env map[string]string) *socketsHost {
	t.Helper()
	host := &socketsHost{t: t, db: db, env: env, open: map[*lateSocket]bool{}}
	host.Evict()
	return host
}

// Evict starts a new Go instance; the sockets keep their attachments.
func (h *socketsHost) Evict() {
	h.t.Helper()
	h.busy.Lock()
	defer h.busy.Unlock()
	var s *edge.Sockets
	_, err := edge.New(context.Background(), h.db, func(k string) string { return h.env[k] }, slog.New(slog.DiscardHandler),
		edge.WithSessions(&s), edge.WithSockets(h.Announce, h.OpenVisits))
	if err != nil {
		h.t.Fatal(err)
	}
	h.mu.Lock()
	h.sockets = s
	h.mu.Unlock()
}

func (h *socketsHost) current() *edge.Sockets {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sockets
}

// Announce is the glue's announce() with one object: the sockets it
// concerns are resumed first.
func (h *socketsHost) Announce(ctx context.Context, body []byte) (int, error) {
	var a struct {
		Key     string `json:"key"`
		VisitID string `json:"visitId"`
	}
	if err := json.Unmarshal(body, &a); err != nil {
		return 0, err
	}
	h.mu.Lock()
	var socks []*lateSocket
	for s := range h.open {
		socks = append(socks, s)
	}
	h.mu.Unlock()
	for _, sock := range socks {
		var att edge.Attachment
		json.Unmarshal(sock.attachment(), &att)
		if att.State == nil || (a.Key == "" || att.State.Subject != a.Key) && (a.VisitID == "" || att.State.VisitID != a.VisitID) {
			continue
		}
		if next, err := h.current().Resume(ctx, sock.attachment(), sock); err != nil {
			sock.Close(websocket.StatusInternalError, "lost")
		} else if next != nil {
			sock.keep(next)
		}
	}
	return h.current().Announced(ctx, body)
}

// OpenVisits is the glue's openVisits with one object: the visits in its
// sockets' attachments.
func (h *socketsHost) OpenVisits(context.Context) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ids []string
	for sock := range h.open {
		var att edge.Attachment
		if err := json.Unmarshal(sock.attachment(), &att); err != nil {
			return nil, err
		}
		if att.State != nil && att.State.VisitID != "" {
			ids = append(ids, att.State.VisitID)
		}
	}
	return ids, nil
}

// lateSocket is a socket the object hands to Open before it accepts it,
// with its attachment.
type lateSocket struct {
	mu  sync.Mutex
	ws  *websocket.Conn
	att []byte
}

func (s *lateSocket) conn() *websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ws
}

func (s *lateSocket) attachment() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.att
}

func (s *lateSocket) keep(att []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.att = att
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
	o := h.current().Open(r.Clone(r.Context()), sock)
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
		h.current().Closed(o.ID)
		return
	}
	// The Workers runtime takes frames up to 1 MiB and more; the rules
	// on their size are Go's.
	ws.SetReadLimit(4 << 20)
	sock.mu.Lock()
	sock.ws = ws
	sock.att, _ = json.Marshal(edge.Attachment{ID: o.ID})
	sock.mu.Unlock()
	if o.CloseCode != 0 {
		ws.Close(websocket.StatusCode(o.CloseCode), o.CloseReason)
		return
	}
	h.mu.Lock()
	h.open[sock] = true
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.open, sock)
		h.mu.Unlock()
	}()
	late := time.AfterFunc(time.Duration(o.HelloTimeout)*time.Millisecond, func() {
		ws.Close(websocket.StatusPolicyViolation, o.HelloClose)
	})
	defer late.Stop()
	ctx := context.WithoutCancel(r.Context())
	for {
		typ, frame, err := ws.Read(r.Context())
		if err != nil {
			h.current().Closed(o.ID)
			return
		}
		late.Stop()
		h.busy.RLock()
		next, err := h.current().Frame(ctx, sock.attachment(), sock, typ == websocket.MessageText, frame)
		if err == nil {
			sock.keep(next)
		}
		h.busy.RUnlock()
		if err != nil {
			ws.Close(websocket.StatusInternalError, "the collector lost this connection's state; connect again")
			return
		}
	}
}

// TestSocketUnknownToGo: a frame of a socket whose Go session is gone and
// whose attachment holds no state to resume it (it never said hello) is
// refused, so that the object closes it with 1011 and the tracker
// connects again; a socket that closed is forgotten.
func TestSocketUnknownToGo(t *testing.T) {
	env := map[string]string{
		edge.EnvAdminToken:     "vt_edge-sqlite-admin-0123456789",
		edge.EnvRecognitionKey: "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7",
		edge.EnvAllowedOrigins: "http://shop.example",
	}
	db, _, _ := freshWorker(t, env)
	host := newSocketsHost(t, db, env)
	ctx := context.Background()
	hello := []byte(`{"type":"hello"}`)
	if _, err := host.current().Frame(ctx, []byte(`{"id":"0123456789abcdef0123456789abcdef"}`), &lateSocket{}, true, hello); err == nil {
		t.Fatal("a frame of a socket no session knows was taken")
	}
	r, _ := http.NewRequest("GET", "http://edge.example/v1/ws", nil)
	r.Header.Set("Origin", "http://shop.example")
	r.Header.Set("Sec-WebSocket-Protocol", "visitrack.v1")
	o := host.current().Open(r, &lateSocket{})
	if o.ID == "" || o.Status != http.StatusSwitchingProtocols || o.Protocol != "visitrack.v1" || host.current().Len() != 1 {
		t.Fatalf("Open answered %+v with %d sessions, want a session answering visitrack.v1", o, host.current().Len())
	}
	host.current().Closed(o.ID)
	att, _ := json.Marshal(edge.Attachment{ID: o.ID})
	if _, err := host.current().Frame(ctx, att, &lateSocket{}, true, hello); host.current().Len() != 0 || err == nil {
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

// TestSocketResume: an object evicted while its sockets stay open (the
// hibernation API) goes on with them in a new Go instance, from the state
// in their attachments: a REST write and a notification announced to it
// reach a socket it never saw (resumed first), frames are answered as
// before, and nothing is sent twice. A socket evicted before its hello
// cannot be resumed: 1011.
func TestSocketResume(t *testing.T) {
	const origin, admin = "http://shop.example", "vt_edge-sqlite-admin-0123456789"
	env := map[string]string{
		edge.EnvAdminToken:     admin,
		edge.EnvRecognitionKey: "a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7a7",
		edge.EnvAllowedOrigins: origin,
	}
	db, _, _ := freshWorker(t, env)
	host := newSocketsHost(t, db, env)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/ws" {
			host.ServeHTTP(w, r)
			return
		}
		h, err := edge.New(r.Context(), db, func(k string) string { return env[k] }, slog.New(slog.DiscardHandler),
			edge.WithSockets(host.Announce, host.OpenVisits))
		if err != nil {
			t.Error(err)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func() *websocket.Conn {
		ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http")+"/v1/ws", &websocket.DialOptions{
			Subprotocols: []string{"visitrack.v1"}, HTTPHeader: http.Header{"Origin": {origin}}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	send := func(ws *websocket.Conn, v string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	next := func(ws *websocket.Conn, typ string) map[string]any {
		t.Helper()
		return readFrame(ctx, t, ws, typ)
	}
	admin2 := func(method, path, ct, body string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 300 {
			t.Fatalf("%s %s: %s %s", method, path, resp.Status, b)
		}
		return string(b)
	}
	event := func() (string, string) {
		id := ulid.Make().String()
		return id, `{"type":"events","events":[{"eventId":"` + id + `","name":"PageEntered","timestamp":"` +
			time.Now().UTC().Format("2006-01-02T15:04:05.000Z") + `","pageId":"` + ulid.Make().String() + `","url":"https://shop.example/"}]}`
	}

	visitor, visit := ulid.Make().String(), ulid.Make().String()
	ws := dial()
	send(ws, `{"type":"hello","visitorId":"`+visitor+`","visitId":"`+visit+`"}`)
	w := next(ws, "welcome")
	visitor, visit = w["visitorId"].(string), w["visitId"].(string)
	id, frame := event()
	send(ws, frame)
	if a := next(ws, "ack"); fmt.Sprint(a["eventIds"]) != "["+id+"]" {
		t.Fatalf("ack %v, want %s", a, id)
	}
	silent := dial() // upgraded, no hello yet

	host.Evict()
	admin2("PATCH", "/v1/visitors/"+visitor+"/visitor-data/campaign", "application/merge-patch+json", `{"step":1}`)
	if m := next(ws, "visitorData"); m["version"] != float64(1) {
		t.Fatalf("push after an eviction %v, want version 1", m)
	}
	host.Evict()
	if out := admin2("POST", "/v1/visits/"+visit+"/notifications", "application/json", `{"channel":"chat","data":1}`); !strings.Contains(out, `"delivered":1`) {
		t.Fatalf("notification after an eviction: %s, want delivered 1", out)
	}
	next(ws, "notification") // not the document again: the resumed session knew its version
	host.Evict()
	id, frame = event()
	send(ws, frame)
	if a := next(ws, "ack"); fmt.Sprint(a["eventIds"]) != "["+id+"]" {
		t.Fatalf("ack after an eviction %v, want %s", a, id)
	}

	send(silent, `{"type":"hello","visitorId":"`+ulid.Make().String()+`","visitId":"`+ulid.Make().String()+`"}`)
	if _, _, err := silent.Read(ctx); websocket.CloseStatus(err) != websocket.StatusInternalError {
		t.Fatalf("a socket evicted before its hello: %v, want close 1011", err)
	}

	// /v1/live lists a visit whose socket is open though it has been
	// quiet past the live window, as natively: the object names it from
	// the socket's attachment, even after an eviction.
	if _, err := db.Exec(`UPDATE visits SET last_seen_at = last_seen_at - 600000 WHERE visit_id = ?`, visit); err != nil {
		t.Fatal(err)
	}
	host.Evict()
	if out := admin2("GET", "/v1/live", "", ""); !strings.Contains(out, visit) {
		t.Fatalf("/v1/live with the visit's socket open: %s, want visit %s", out, visit)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	for deadline := time.Now().Add(10 * time.Second); ; {
		out := admin2("GET", "/v1/live", "", "")
		if !strings.Contains(out, visit) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/v1/live after the socket closed: %s, want no visit %s (quiet 10 min)", out, visit)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readFrame reads the socket's next frame, which must be of type typ.
func readFrame(ctx context.Context, t *testing.T, ws *websocket.Conn, typ string) map[string]any {
	t.Helper()
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatalf("waiting for %s: %v", typ, err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || m["type"] != typ {
		t.Fatalf("got %s, want a %s frame", b, typ)
	}
	return m
}
