package live_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// floodCap is how many empty requests the tests send at most: far past
// the burst (500 at --rate-limit 1), so that a limit that lets them all
// through fails the test instead of ending its loop.
const floodCap = 2000

// visitCount counts the stored visits through the REST API.
func visitCount(t *testing.T, col *collectortest.Collector) int {
	t.Helper()
	var l list[struct {
		VisitID string `json:"visitId"`
	}]
	col.Get("/v1/visits?limit=1000", &l)
	return len(l.Items)
}

// TestRateLimitCountsEmptyCollects (docs/operations.md#the-rate-limit): a /v1/collect without
// events still makes a visitor and a visit, so it costs one; past the
// burst the address gets 429 and creates nothing more.
func TestRateLimitCountsEmptyCollects(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "1") // burst 500
	start := time.Now()
	accepted := 0
	for ; accepted < floodCap; accepted++ {
		status, b, _ := post(t, col.URL()+"/v1/collect", []byte(`{"events":[]}`))
		if status == 429 {
			break
		}
		if status != 200 {
			t.Fatalf("empty collect %d: %d %s", accepted, status, b)
		}
	}
	if accepted == floodCap {
		t.Fatalf("%d empty collects from one address at --rate-limit 1 all passed", floodCap)
	}
	// The burst, plus what refilled meanwhile at 1/s.
	if most := 500 + int(time.Since(start)/time.Second) + 1; accepted > most {
		t.Fatalf("%d empty collects passed, more than the %d the limit allows", accepted, most)
	}
	if n := visitCount(t, col); n != accepted {
		t.Fatalf("%d visits stored for %d accepted requests", n, accepted)
	}
}

// TestRateLimitCountsHellos (docs/operations.md#the-rate-limit): each hello costs one, on a new
// connection or repeated on one; past the burst the connection closes
// with 1013 and no more visits are made. A tracker that reconnects after
// its backoff gets its welcome once the bucket has refilled.
func TestRateLimitCountsHellos(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "1") // burst 500
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	hello, _ := json.Marshal(protocol.Hello{Type: protocol.TypeHello})
	welcomed := 0
	var closed websocket.CloseError
	for ; welcomed < floodCap; welcomed++ {
		if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
			t.Fatalf("hello %d: %v", welcomed, err)
		}
		_, b, err := ws.Read(ctx)
		if errors.As(err, &closed) {
			break
		}
		if err != nil {
			t.Fatalf("hello %d: %v", welcomed, err)
		}
		var env protocol.Envelope
		if json.Unmarshal(b, &env); env.Type != protocol.TypeWelcome {
			t.Fatalf("hello %d answered %s", welcomed, b)
		}
	}
	if welcomed == floodCap {
		t.Fatalf("%d hellos on one connection at --rate-limit 1 were all welcomed", floodCap)
	}
	eq(t, "close status", closed.Code, websocket.StatusTryAgainLater)
	if n := visitCount(t, col); n != welcomed {
		t.Fatalf("%d visits stored for %d welcomes", n, welcomed)
	}

	// The tracker reconnects with backoff until it is welcomed again.
	backoff := 100 * time.Millisecond
	for {
		if ctx.Err() != nil {
			t.Fatal("no welcome within a minute of the bucket draining")
		}
		if reconnect(ctx, col.WSURL(), hello) {
			break
		}
		time.Sleep(backoff) // the tracker's own backoff, not a wait for a condition
		backoff = min(2*backoff, 2*time.Second)
	}
}

// reconnect dials, says hello and reports whether a welcome came.
func reconnect(ctx context.Context, url string, hello []byte) bool {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return false
	}
	defer ws.CloseNow()
	if ws.Write(ctx, websocket.MessageText, hello) != nil {
		return false
	}
	_, b, err := ws.Read(ctx)
	var env protocol.Envelope
	return err == nil && json.Unmarshal(b, &env) == nil && env.Type == protocol.TypeWelcome
}
