//go:build edge

package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/conformance"
	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/wrangler"
)

// shardOf is glue/announce.mjs's choice of Durable Object for a client
// address, to check that the test below spreads its sockets.
func shardOf(ip string, shards int) int {
	h := fnv.New32a()
	h.Write([]byte(ip))
	return int(h.Sum32() % uint32(shards))
}

// TestSocketShards: with the sockets spread over several Durable Objects
// (VISITRACK_WS_SHARDS), a REST write of a visitor's data and a
// notification reach that visitor's socket whichever object holds it:
// announcements go to every object.
func TestSocketShards(t *testing.T) {
	const shards = 4
	vars := settings()
	vars[edge.EnvWSShards] = fmt.Sprint(shards)
	w := startWorker(t, vars)
	wsURL := "ws" + strings.TrimPrefix(w.URL, "http") + "/v1/ws"

	type client struct {
		ws                 *websocket.Conn
		visitorID, visitID string
	}
	read := func(c *client) map[string]any {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, b, err := c.ws.Read(ctx)
		if err != nil {
			t.Fatalf("socket of %s: %v", c.visitorID, err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	var clients []*client
	used := map[int]bool{}
	for i := range 8 {
		ip := fmt.Sprintf("198.51.100.%d", i+1)
		used[shardOf(ip, shards)] = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"visitrack.v1"},
			HTTPHeader: http.Header{"Origin": {origin}, "Cf-Connecting-Ip": {ip}}})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		c := &client{ws: ws, visitorID: ulid.Make().String(), visitID: ulid.Make().String()}
		hello, _ := json.Marshal(map[string]any{"type": "hello", "visitorId": c.visitorID, "visitId": c.visitID})
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		err = ws.Write(ctx, websocket.MessageText, hello)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if m := read(c); m["type"] != "welcome" {
			t.Fatalf("got %v, want welcome", m)
		}
		clients = append(clients, c)
	}
	if len(used) < 2 {
		t.Fatalf("the test's addresses fall in %d Durable Object(s); pick others", len(used))
	}
	for i, c := range clients {
		status, body := adminSend(t, "PATCH", w.URL+"/v1/visitors/"+c.visitorID+"/visitor-data/crm",
			"application/merge-patch+json", fmt.Sprintf(`{"n":%d}`, i))
		if status != http.StatusOK {
			t.Fatalf("PATCH: %d %s", status, body)
		}
		status, body = adminSend(t, "POST", w.URL+"/v1/visits/"+c.visitID+"/notifications",
			"application/json", fmt.Sprintf(`{"channel":"chat","data":%d}`, i))
		if status != http.StatusAccepted || !strings.Contains(body, `"delivered":1`) {
			t.Fatalf("notification to socket %d: %d %s, want delivered 1", i, status, body)
		}
	}
	for i, c := range clients {
		if m := read(c); m["type"] != "visitorData" || m["version"] != float64(1) || conformance.Path(m, "data", "crm", "n") != float64(i) {
			t.Fatalf("socket %d got %v, want its visitor data, version 1", i, m)
		}
		if m := read(c); m["type"] != "notification" || m["data"] != float64(i) {
			t.Fatalf("socket %d got %v, want its notification", i, m)
		}
	}
	// /v1/live asks every object for its sockets' visits (glue/announce.mjs
	// openVisits; that a quiet visit is listed for its socket alone is
	// TestSocketResume's): it answers, and lists each visit.
	status, body := adminSend(t, "GET", w.URL+"/v1/live?limit=100", "", "")
	if status != http.StatusOK {
		t.Fatalf("GET /v1/live: %d %s", status, body)
	}
	for i, c := range clients {
		if !strings.Contains(body, `"visitId":"`+c.visitID+`"`) {
			t.Errorf("GET /v1/live lists no visit of socket %d (%s): %s", i, c.visitID, body)
		}
	}
}

// TestSocketLimits: the native per-address limits hold for the edge's
// sockets, which one Durable Object holds per address: a socket over
// VISITRACK_MAX_SOCKETS_PER_IP is refused with 429 before the upgrade
// (another address still connects), and frames over VISITRACK_RATE_LIMIT
// close the socket with 1013.
func TestSocketLimits(t *testing.T) {
	vars := settings()
	vars[edge.EnvRateLimit] = "1" // a burst of 500 events
	vars[edge.EnvMaxSocketsPerIP] = "2"
	w := startWorker(t, vars)
	wsURL := "ws" + strings.TrimPrefix(w.URL, "http") + "/v1/ws"
	dial := func(ip string) (*websocket.Conn, *http.Response, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"visitrack.v1"},
			HTTPHeader: http.Header{"Origin": {origin}, "Cf-Connecting-Ip": {ip}}})
		if err == nil {
			ws.SetReadLimit(4 << 20) // an ack of 500 rejections
			t.Cleanup(func() { ws.CloseNow() })
		}
		return ws, resp, err
	}
	send := func(ws *websocket.Conn, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	read := func(ws *websocket.Conn) (map[string]any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, b, err := ws.Read(ctx)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		return m, json.Unmarshal(b, &m)
	}
	const ip = "198.51.100.77"
	var held []*websocket.Conn
	for range 2 {
		ws, _, err := dial(ip)
		if err != nil {
			t.Fatal(err)
		}
		send(ws, map[string]any{"type": "hello", "visitorId": ulid.Make().String(), "visitId": ulid.Make().String()})
		if m, err := read(ws); err != nil || m["type"] != "welcome" {
			t.Fatalf("got %v, %v; want welcome", m, err)
		}
		held = append(held, ws)
	}
	if _, resp, err := dial(ip); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a third socket of %s: %v (answer %v), want 429", ip, err, resp)
	}
	if _, _, err := dial("198.51.100.78"); err != nil {
		t.Fatalf("another address: %v", err)
	}

	// Frames of 500 events (each rejected: no name) until the bucket is
	// empty: the burst takes the first at most, the next is refused.
	evs := make([]map[string]any, 500)
	for i := range evs {
		evs[i] = map[string]any{"eventId": ulid.Make().String(), "name": "", "timestamp": "2026-12-01T10:00:00.000Z"}
	}
	for i := range 3 {
		send(held[0], map[string]any{"type": "events", "events": evs})
		m, err := read(held[0])
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusTryAgainLater {
				t.Fatalf("frame %d: %v (close code %d), want close code 1013", i, err, got)
			}
			return
		}
		if m["type"] != "ack" {
			t.Fatalf("frame %d answered %v, want an ack or close 1013", i, m)
		}
	}
	t.Fatal("three frames of 500 events at 1 event/s: no close 1013")
}

// TestSocketHibernation: the platform evicts an idle Durable Object while
// its sockets stay open (local workerd does it after about 10 s). The
// next event starts a new Go instance, which resumes each socket's session
// from its attachment: a REST write reaches the idle page as a push, a
// notification reaches it, and its next frame is acknowledged, with no
// reconnection.
func TestSocketHibernation(t *testing.T) {
	const started = "edge: Go instance started for a Durable Object's WebSockets"
	w := startWorkerWith(t, wrangler.Options{Vars: settings(), LogLevel: "log"})
	wsURL := "ws" + strings.TrimPrefix(w.URL, "http") + "/v1/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{"visitrack.v1"},
		HTTPHeader: http.Header{"Origin": {origin}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	send := func(v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	next := func(typ string) map[string]any {
		t.Helper()
		return readFrame(ctx, t, ws, typ) // ws_test.go
	}
	event := func() map[string]any {
		return map[string]any{"eventId": ulid.Make().String(), "name": "PageEntered", "pageId": ulid.Make().String(),
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "url": "https://shop.example/"}
	}
	send(map[string]any{"type": "hello", "visitorId": ulid.Make().String(), "visitId": ulid.Make().String()})
	wel := next("welcome")
	visitor, visit := wel["visitorId"].(string), wel["visitId"].(string)
	send(map[string]any{"type": "events", "events": []any{event()}})
	next("ack")
	if n := strings.Count(w.Output(), started); n != 1 {
		t.Fatalf("%q logged %d times for one object, want 1:\n%s", started, n, w.Output())
	}

	// Nothing to wait on: an evicted object says so only when an event
	// wakes it. Twice the local eviction delay, then the new instance's
	// line tells that it happened.
	time.Sleep(20 * time.Second)
	status, body := adminSend(t, "PATCH", w.URL+"/v1/visitors/"+visitor+"/visitor-data/campaign",
		"application/merge-patch+json", `{"step":1}`)
	if status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	if m := next("visitorData"); m["version"] != float64(1) || conformance.Path(m, "data", "campaign", "step") != float64(1) {
		t.Fatalf("push after the eviction %v, want version 1", m)
	}
	if n := strings.Count(w.Output(), started); n != 2 {
		t.Fatalf("%q logged %d times, want 2 (the object was not evicted, so this test proves nothing):\n%s", started, n, w.Output())
	}
	status, body = adminSend(t, "POST", w.URL+"/v1/visits/"+visit+"/notifications", "application/json", `{"channel":"chat","data":"hi"}`)
	if status != http.StatusAccepted || !strings.Contains(body, `"delivered":1`) {
		t.Fatalf("notification: %d %s, want delivered 1", status, body)
	}
	next("notification")
	e := event()
	send(map[string]any{"type": "events", "events": []any{e}})
	if a := next("ack"); fmt.Sprint(a["eventIds"]) != "["+e["eventId"].(string)+"]" {
		t.Fatalf("ack %v, want %s", a, e["eventId"])
	}
}
