package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/shared/protocol"
)

func batch(n int) []protocol.Event {
	evs := make([]protocol.Event, n)
	for i := range evs {
		evs[i] = collectortest.Event("Burst", "", map[string]any{"i": i})
	}
	return evs
}

// expectClose reads until the connection closes and returns its status.
func expectClose(t *testing.T, c *collectortest.Client) websocket.StatusCode {
	t.Helper()
	for {
		_, _, err := c.Read()
		if err != nil {
			var ce websocket.CloseError
			if !errors.As(err, &ce) {
				t.Fatalf("connection ended without a close frame: %v", err)
			}
			return ce.Code
		}
	}
}

// TestRateLimit: one client IP's events are limited over all its
// WebSocket connections and /v1/collect together; what is over the limit
// is not stored.
func TestRateLimit(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "10") // burst 500
	hello := protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()}
	c := collectortest.Dial(t, col.WSURL(), hello)
	ack, _ := c.SendEvents(false, batch(499)...) // the hello took one
	eq(t, "acked within the burst", len(ack.EventIDs), 499)

	over := batch(100)
	c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Events: over})
	eq(t, "close status", expectClose(t, c), websocket.StatusTryAgainLater)

	// Another connection from the same IP shares the drained bucket: its
	// hello (if it finds the one event refilled meanwhile) or its events
	// are refused.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws2, _, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.CloseNow()
	for _, frame := range []any{
		protocol.Hello{Type: protocol.TypeHello, VisitorID: hello.VisitorID, VisitID: hello.VisitID},
		protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Events: batch(200)},
	} {
		b, _ := json.Marshal(frame)
		ws2.Write(ctx, websocket.MessageText, b) // fails once the hello was refused
	}
	eq(t, "second connection's close status", expectClose(t, &collectortest.Client{Conn: ws2}), websocket.StatusTryAgainLater)

	// And the HTTP transport.
	body, _ := json.Marshal(protocol.CollectRequest{VisitorID: hello.VisitorID, VisitID: hello.VisitID, Events: batch(200)})
	status, b, retry := post(t, col.URL()+"/v1/collect", body)
	var p struct {
		Status int    `json:"status"`
		Code   string `json:"code"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("429 body %s: %v", b, err)
	}
	if status != 429 || p.Status != 429 || p.Code != "rate_limited" || p.Detail != "rate limit: 10 events/s per client" {
		t.Fatalf("collect over the limit: %d %s", status, b)
	}
	// 200 events at 10/s from a nearly empty bucket: up to 20s.
	if n, err := strconv.Atoi(retry); err != nil || n < 1 || n > 20 {
		t.Fatalf("Retry-After %q", retry)
	}

	// Only the first frame is stored.
	var evs list[event]
	col.Get("/v1/visits/"+hello.VisitID+"/events?limit=1000", &evs)
	eq(t, "stored", len(evs.Items), 499)
}

// post sends a /v1/collect body and returns the status, the body and
// Retry-After.
func post(t *testing.T, url string, body []byte) (int, []byte, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode == 429 && ct != "application/problem+json" {
		t.Errorf("429 Content-Type %q", ct)
	}
	return resp.StatusCode, b, resp.Header.Get("Retry-After")
}

// TestTrustedProxies: behind a trusted proxy the visit and its events
// carry the address X-Forwarded-For names; from anyone else the header
// is ignored.
func TestTrustedProxies(t *testing.T) {
	for _, tc := range []struct {
		name  string
		flags []string
		want  string
	}{
		{"trusted", []string{"--trusted-proxies", "127.0.0.0/8"}, "203.0.113.7"},
		{"not trusted", nil, "127.0.0.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			col := collectortest.Start(t, tc.flags...)
			visit := collectortest.NewID()
			body, _ := json.Marshal(protocol.CollectRequest{VisitorID: collectortest.NewID(), VisitID: visit,
				Events: []protocol.Event{collectortest.Event("Browse", "", nil)}})
			status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body,
				"X-Forwarded-For", "198.51.100.1, 203.0.113.7")
			if status != 200 {
				t.Fatalf("collect: %d %s", status, b)
			}
			col.Stop() // everything committed; the file is ours
			db, err := sqlite.Open(filepath.Join(col.DataDir, "visitrack.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var visitIP string
			var events, others int
			if err := db.QueryRow(`SELECT ip FROM visits WHERE visit_id = ?`, visit).Scan(&visitIP); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRow(`SELECT count(*), count(*) FILTER (WHERE ip IS NOT ?) FROM events WHERE visit_id = ?`,
				tc.want, visit).Scan(&events, &others); err != nil {
				t.Fatal(err)
			}
			eq(t, "visit ip", visitIP, tc.want)
			if events == 0 || others != 0 {
				t.Fatalf("%d events, %d of them with another ip than %s", events, others, tc.want)
			}
		})
	}
}

// A browser's visitor-data update writes to the database: it counts
// against the limit too.
func TestRateLimitCountsUpdates(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "10", "--browser-writable", "prefs") // burst 500
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	ack, _ := c.SendEvents(false, batch(499)...) // the hello took one
	eq(t, "acked within the burst", len(ack.EventIDs), 499)
	c.Send(protocol.VisitorDataUpdate{Type: protocol.TypeVisitorDataUpdate, RequestID: "r1", Namespace: "prefs", Value: protocol.RawJSON(`{"theme":"dark"}`)})
	eq(t, "close status", expectClose(t, c), websocket.StatusTryAgainLater)
	status, b := col.Do("GET", "/v1/visitors/"+c.Welcome.VisitorID+"/visitor-data", nil)
	if status != 200 || bytes.Contains(b, []byte("dark")) {
		t.Fatalf("the refused update was stored: %d %s", status, b)
	}
}
