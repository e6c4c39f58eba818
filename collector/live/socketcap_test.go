package live_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestSocketsPerIPCap (docs/security.md#connections): one client address holds at most
// --max-sockets-per-ip open WebSockets; one more is refused with a 429
// problem before the upgrade, while another address still connects, and
// a closed socket frees its slot. The two addresses are the ones
// X-Forwarded-For names through the trusted loopback proxy, as behind a
// reverse proxy.
func TestSocketsPerIPCap(t *testing.T) {
	col := collectortest.Start(t, "--max-sockets-per-ip", "3", "--trusted-proxies", "127.0.0.1/32")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(ip string) (*websocket.Conn, *http.Response, error) {
		ws, resp, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{
			Subprotocols: []string{protocol.Subprotocol},
			HTTPHeader:   http.Header{"X-Forwarded-For": {ip}},
		})
		if err == nil {
			t.Cleanup(func() { ws.CloseNow() })
		}
		return ws, resp, err
	}
	const a, b = "203.0.113.10", "203.0.113.20"
	var held []*websocket.Conn
	for i := 0; i < 3; i++ {
		ws, _, err := dial(a)
		if err != nil {
			t.Fatalf("socket %d of %s: %v", i+1, a, err)
		}
		held = append(held, ws)
	}

	_, resp, err := dial(a)
	if err == nil {
		t.Fatalf("a 4th socket from %s was accepted with --max-sockets-per-ip 3", a)
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("4th socket: %v, response %+v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	var p struct{ Code string }
	if json.Unmarshal(body, &p) != nil || p.Code != "too_many_sockets" {
		t.Fatalf("4th socket's problem: %s", body)
	}

	// Another address is not affected, and speaks the protocol.
	if _, _, err := dial(b); err != nil {
		t.Fatalf("a socket from %s: %v", b, err)
	}
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{}) // from 127.0.0.1 itself
	c.SendEvents(false, collectortest.Event("Browse", "", nil))

	// Closing one of a's sockets frees its slot once the collector has
	// seen it close.
	held[0].Close(websocket.StatusNormalClosure, "")
	for {
		ws, _, err := dial(a)
		if err == nil {
			ws.CloseNow()
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the closed socket's slot was never freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the condition: the server's close
	}
}
