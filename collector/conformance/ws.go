package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The WebSocket transport (docs/protocol.md#websocket): GET /v1/ws with the
// subprotocol visitrack.v1, natively and at the edge (a Durable Object
// there). Like the rest of the suite it checks the wire: frames as JSON
// objects, close codes as numbers.

const subprotocol = "visitrack.v1"

// wsTimeout bounds each read and write: generous, the machine is loaded.
const wsTimeout = 30 * time.Second

// socket is one tracker's WebSocket.
type socket struct {
	t *testing.T
	c *websocket.Conn
}

// wsURL is the /v1/ws address of the target.
func (s *suite) wsURL() string {
	u := s.BaseURL
	switch {
	case strings.HasPrefix(u, "https://"):
		u = "wss://" + u[len("https://"):]
	case strings.HasPrefix(u, "http://"):
		u = "ws://" + u[len("http://"):]
	}
	return u + "/v1/ws"
}

// dialWS opens /v1/ws with these subprotocols and headers (Origin is the
// target's unless header says otherwise).
func (s *suite) dialWS(t *testing.T, header http.Header, subprotocols ...string) (*socket, *http.Response, error) {
	t.Helper()
	h := http.Header{"Origin": {s.Origin}}
	for k, v := range header {
		h[k] = v
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, s.wsURL(), &websocket.DialOptions{Subprotocols: subprotocols, HTTPHeader: h, HTTPClient: s.Client})
	if err != nil {
		return nil, resp, err
	}
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	return &socket{t: t, c: c}, resp, nil
}

// open dials /v1/ws as the tracker does, says hello as browser b, and
// returns the socket with the welcome, whose ids b adopts.
func (s *suite) open(t *testing.T, b *browser) (*socket, map[string]any) {
	t.Helper()
	ws, _, err := s.dialWS(t, nil, subprotocol)
	if err != nil {
		t.Fatalf("dial %s: %v", s.wsURL(), err)
	}
	ws.send(b.hello())
	w := ws.want("welcome")
	for k, p := range map[string]*string{"visitorId": &b.visitorID, "visitId": &b.visitID, "visitorKey": &b.visitorKey} {
		if v, ok := w[k].(string); ok && v != "" {
			*p = v
		}
	}
	return ws, w
}

// hello is the first frame of browser b.
func (b *browser) hello() map[string]any {
	return map[string]any{"type": "hello", "visitorId": b.visitorID, "visitorKey": b.visitorKey,
		"visitId": b.visitID, "recognition": b.recognition, "tracker": "1.0.0"}
}

func (w *socket) send(v any) {
	w.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		w.t.Fatal(err)
	}
	w.write(websocket.MessageText, b)
}

func (w *socket) write(typ websocket.MessageType, b []byte) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	if err := w.c.Write(ctx, typ, b); err != nil {
		w.t.Fatalf("write: %v", err)
	}
}

// read returns the next frame, decoded.
func (w *socket) read() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), wsTimeout)
	defer cancel()
	typ, b, err := w.c.Read(ctx)
	if err != nil {
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, errors.New("a binary frame from the collector")
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, errors.New("a frame that is not a JSON object: " + string(b))
	}
	return m, nil
}

// want reads the next frame and fails unless it has this type.
func (w *socket) want(typ string) map[string]any {
	w.t.Helper()
	m, err := w.read()
	if err != nil {
		w.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if m["type"] != typ {
		w.t.Fatalf("got frame %v, want type %q", m, typ)
	}
	return m
}

// wantError reads an error frame and fails unless it has this code (and
// requestId, if not empty).
func (w *socket) wantError(code, requestID string) {
	w.t.Helper()
	m := w.want("error")
	if m["code"] != code {
		w.t.Fatalf("error frame %v, want code %q", m, code)
	}
	if msg, _ := m["message"].(string); msg == "" {
		w.t.Fatalf("error frame %v without a message", m)
	}
	if requestID != "" && m["requestId"] != requestID {
		w.t.Fatalf("error frame %v, want requestId %q", m, requestID)
	}
}

// wantClose reads until the collector closes, and fails unless it closed
// with code; frames before the close fail the test too.
func (w *socket) wantClose(code websocket.StatusCode) {
	w.t.Helper()
	m, err := w.read()
	if err == nil {
		w.t.Fatalf("got frame %v, want the socket closed with %d", m, code)
	}
	if got := websocket.CloseStatus(err); got != code {
		w.t.Fatalf("socket ended with %v (close code %d), want close code %d", err, got, code)
	}
}

// ack reads an ack and returns its acknowledged ids and rejections by id.
func (w *socket) ack() (ids []string, rejected map[string]string) {
	w.t.Helper()
	m := w.want("ack")
	for _, v := range asSlice(m["eventIds"]) {
		ids = append(ids, v.(string))
	}
	rejected = map[string]string{}
	for _, v := range asSlice(m["rejected"]) {
		r := v.(map[string]any)
		if msg, _ := r["message"].(string); msg == "" {
			w.t.Fatalf("rejection %v without a message", r)
		}
		rejected[r["eventId"].(string)], _ = r["code"].(string)
	}
	return ids, rejected
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}

// events is an events frame.
func events(evs ...map[string]any) map[string]any {
	if evs == nil {
		evs = []map[string]any{}
	}
	return map[string]any{"type": "events", "sentAt": stamp(time.Now()), "events": evs}
}

// testWebSocket runs the WebSocket areas.
func (s *suite) testWebSocket(t *testing.T) {
	t.Run("WelcomeAndAck", s.testWSWelcomeAndAck)
	t.Run("Order", s.testWSOrder)
	t.Run("Push", s.testWSPush)
	t.Run("IdentityPush", s.testWSIdentityPush)
	t.Run("SignIn", s.testWSSignIn)
	t.Run("Notification", s.testWSNotification)
	t.Run("BadFrames", s.testWSBadFrames)
	t.Run("Refusals", s.testWSRefusals)
}

// testWSWelcomeAndAck: welcome as docs/protocol.md#websocket writes it; an ack names
// the stored events and rejects the bad one next to them, and comes after
// the commit: the History API has the events as soon as the ack is read.
func (s *suite) testWSWelcomeAndAck(t *testing.T) {
	b := newBrowser()
	ws, w := s.open(t, b)
	if w["visitId"] != b.visitID || w["state"] != "anonymous" || w["verified"] != false {
		t.Fatalf("welcome %v, want visit %s, anonymous, not verified", w, b.visitID)
	}
	if id, ok := w["identityId"]; !ok || id != nil {
		t.Fatalf("welcome %v, want identityId null", w)
	}
	vd, _ := w["visitorData"].(map[string]any)
	if vd == nil || vd["version"] != float64(0) || len(vd["data"].(map[string]any)) != 0 {
		t.Fatalf("welcome visitorData %v, want version 0 and {}", w["visitorData"])
	}
	good, other := b.event("PageEntered", nil), b.event("ProductViewed", map[string]any{"sku": "A-1"})
	bad := b.event("", nil)
	ws.send(events(good, bad, other))
	ids, rejected := ws.ack()
	if !sameSet(ids, []string{good["eventId"].(string), other["eventId"].(string)}) {
		t.Fatalf("ack eventIds %v, want %s and %s", ids, good["eventId"], other["eventId"])
	}
	if len(rejected) != 1 || rejected[bad["eventId"].(string)] != "invalid_event" {
		t.Fatalf("ack rejected %v, want %s as invalid_event", rejected, bad["eventId"])
	}
	got := names(s.events(t, b.visitID))
	if strings.Join(got, ",") != "PageEntered,ProductViewed" {
		t.Fatalf("stored events %v right after the ack, want PageEntered, ProductViewed", got)
	}
	// The same events again: acknowledged, not stored twice.
	ws.send(events(good))
	if ids, _ := ws.ack(); !sameSet(ids, []string{good["eventId"].(string)}) {
		t.Fatalf("ack of a resent event %v, want %s", ids, good["eventId"])
	}
	if n := len(s.events(t, b.visitID)); n != 2 {
		t.Fatalf("%d events after a resend, want 2", n)
	}
}

// testWSOrder: frames sent without waiting are handled in order, each
// acknowledged in turn.
func (s *suite) testWSOrder(t *testing.T) {
	b := newBrowser()
	ws, _ := s.open(t, b)
	var want []string
	for i := range 6 {
		e := b.event("Step", map[string]any{"i": i})
		want = append(want, e["eventId"].(string))
		ws.send(events(e))
	}
	for i, id := range want {
		if ids, _ := ws.ack(); len(ids) != 1 || ids[0] != id {
			t.Fatalf("ack %d named %v, want %s", i, ids, id)
		}
	}
}

func toJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
