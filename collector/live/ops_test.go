package live_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestClockSkew: a browser clock an hour slow is corrected with sentAt;
// the browser's own timestamp is kept too.
func TestClockSkew(t *testing.T) {
	col := collectortest.Start(t)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	browserNow := time.Now().Add(-time.Hour).UTC()
	e := collectortest.Event("Skewed", "", nil)
	e.Timestamp = browserNow.Add(-5 * time.Second).Format(time.RFC3339Nano) // made 5s before sending
	before := time.Now()
	c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: browserNow.Format(time.RFC3339Nano), Events: []protocol.Event{e}})
	var ack protocol.Ack
	c.Expect(protocol.TypeAck, &ack)
	after := time.Now()

	var evs list[struct {
		Timestamp   time.Time `json:"timestamp"`
		CorrectedAt time.Time `json:"correctedAt"`
		ReceivedAt  time.Time `json:"receivedAt"`
	}]
	col.Get("/v1/visits/"+c.Welcome.VisitID+"/events", &evs)
	got := evs.Items[0]
	if !got.Timestamp.Equal(browserNow.Add(-5 * time.Second).Truncate(time.Millisecond)) {
		t.Errorf("timestamp = %s, want the browser's %s", got.Timestamp, browserNow.Add(-5*time.Second))
	}
	lo, hi := before.Add(-5*time.Second-2*time.Millisecond), after.Add(-5*time.Second+2*time.Millisecond)
	if got.CorrectedAt.Before(lo) || got.CorrectedAt.After(hi) {
		t.Errorf("correctedAt = %s, want 5s before receipt, in [%s, %s]", got.CorrectedAt, lo, hi)
	}
	if got.ReceivedAt.Before(before.Add(-time.Millisecond)) || got.ReceivedAt.After(after) {
		t.Errorf("receivedAt = %s, not between %s and %s", got.ReceivedAt, before, after)
	}

	// A browser clock ahead of ours without sentAt cannot put events in
	// the future.
	f := collectortest.Event("Future", "", nil)
	f.Timestamp = time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)
	c.Send(protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{f}})
	c.Expect(protocol.TypeAck, &ack)
	col.Get("/v1/visits/"+c.Welcome.VisitID+"/events?name=Future", &evs)
	if evs.Items[0].CorrectedAt.After(time.Now()) {
		t.Errorf("correctedAt %s is in the future", evs.Items[0].CorrectedAt)
	}
}

// TestGracefulShutdown: events received before shutdown are committed and
// acknowledged, then sockets close with 1001.
func TestGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	e := collectortest.Event("Last", "", nil)
	c.Send(protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{e}})
	var ack protocol.Ack
	c.Expect(protocol.TypeAck, &ack)
	// Read while the collector stops, as a tracker does: the close
	// handshake completes.
	closed := make(chan error, 1)
	go func() { _, _, err := c.Read(); closed <- err }()
	col.Stop()
	if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close = %v, want 1001", err)
	}
	col = collectortest.StartIn(t, dir)
	var evs list[event]
	col.Get("/v1/visits/"+c.Welcome.VisitID+"/events", &evs)
	if len(evs.Items) != 1 || evs.Items[0].EventID != e.EventID {
		t.Fatalf("after restart: %+v", evs.Items)
	}
}

// TestOperations: /healthz without auth; /metrics in Prometheus text with
// the ingest metrics, for a token with metrics:read only.
func TestOperations(t *testing.T) {
	col := collectortest.Start(t)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	bad := collectortest.Event("", "", nil)
	c.SendEvents(false, collectortest.Event("Browse", "", nil), bad)

	status, body := collectortest.Request(t, col.URL(), "", "GET", "/healthz", nil)
	if status != 200 || !strings.Contains(string(body), "ok") {
		t.Fatalf("healthz: %d %s", status, body)
	}
	s, closeDB, err := daemon.OpenStore(col.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	token := func(scope string) string {
		_, secret, err := s.CreateToken(context.Background(), []string{scope})
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	for token, want := range map[string]int{"": 401, token(collector.ScopeStatsRead): 403} {
		if status, body := collectortest.Request(t, col.URL(), token, "GET", "/metrics", nil); status != want {
			t.Fatalf("metrics with token %q: %d %s, want %d", token, status, body, want)
		}
	}
	status, body = collectortest.Request(t, col.URL(), token(collector.ScopeMetricsRead), "GET", "/metrics", nil)
	if status != 200 {
		t.Fatalf("metrics: %d", status)
	}
	for _, want := range []string{
		"visitrack_events_received_total 2",
		"visitrack_events_committed_total 1",
		`visitrack_events_rejected_total{code="invalid_event"} 1`,
		"visitrack_websocket_connections 1",
		"visitrack_commit_seconds_bucket",
		"visitrack_commit_batch_events_count",
		"visitrack_wal_bytes ", "visitrack_wal_restarts_total 0", "visitrack_wal_restarts_given_up_total 0",
		"visitrack_wal_writer_checkpoints_total 0", "visitrack_wal_writer_checkpoint_seconds_total 0",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// TestCollectHTTP: the HTTP transport's answers and its bad input.
func TestCollectHTTP(t *testing.T) {
	col := collectortest.Start(t, "--allowed-origins", "https://shop.example")
	visitor, visit := collectortest.NewID(), collectortest.NewID()
	good := collectortest.Event("Browse", "", nil)
	body, _ := json.Marshal(protocol.CollectRequest{VisitorID: visitor, VisitID: visit, Events: []protocol.Event{good, collectortest.Event("", "", nil)}})

	// sendBeacon's text/plain, from an allowed origin.
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body,
		"Content-Type", "text/plain;charset=UTF-8", "Origin", "https://shop.example")
	if status != 200 {
		t.Fatalf("collect: %d %s", status, b)
	}
	var res protocol.CollectResponse
	json.Unmarshal(b, &res)
	if res.VisitID != visit || len(res.Ack.EventIDs) != 1 || len(res.Ack.Rejected) != 1 {
		t.Fatalf("collect answer: %s", b)
	}

	// CORS preflight.
	req, _ := http.NewRequestWithContext(context.Background(), "OPTIONS", col.URL()+"/v1/collect", nil)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://shop.example" {
		t.Fatalf("preflight: %d %v", resp.StatusCode, resp.Header)
	}

	for name, tc := range map[string]struct {
		ctype, body string
		status      int
		code        string
	}{
		"form type":   {"application/x-www-form-urlencoded", string(body), 415, "unsupported_media_type"},
		"malformed":   {"application/json", `{"events":[`, 400, protocol.CodeInvalidMessage},
		"too large":   {"application/json", `{"events":[],"x":"` + strings.Repeat("x", protocol.MaxBatchBytes) + `"}`, 413, protocol.CodeTooLarge},
		"events type": {"application/json", `{"events":"many"}`, 400, protocol.CodeInvalidMessage},
	} {
		status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", tc.body, "Content-Type", tc.ctype)
		var p struct {
			Status int    `json:"status"`
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		json.Unmarshal(b, &p)
		if status != tc.status || p.Code != tc.code || p.Detail == "" {
			t.Errorf("%s: %d %s, want %d %s", name, status, b, tc.status, tc.code)
		}
	}
	// Still one event stored.
	var evs list[event]
	col.Get("/v1/visits/"+visit+"/events", &evs)
	eq(t, "stored", len(evs.Items), 1)
}
