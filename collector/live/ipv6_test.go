package live_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestIPv6ClientsGroupedBy64: the addresses of one IPv6 /64 are one
// client to the WebSocket cap and to the rate limit, so that a host
// choosing fresh addresses in its /64 gets no more than one address
// would; the next /64 is another client. The addresses are the ones
// X-Forwarded-For names through the trusted loopback proxy.
func TestIPv6ClientsGroupedBy64(t *testing.T) {
	col := collectortest.Start(t, "--max-sockets-per-ip", "3", "--rate-limit", "10", // burst 500
		"--trusted-proxies", "127.0.0.1/32")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dial := func(ip string) (*http.Response, error) {
		ws, resp, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{
			Subprotocols: []string{protocol.Subprotocol},
			HTTPHeader:   http.Header{"X-Forwarded-For": {ip}},
		})
		if err == nil {
			t.Cleanup(func() { ws.CloseNow() })
		}
		return resp, err
	}
	for _, ip := range []string{"2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:8000::1"} {
		if _, err := dial(ip); err != nil {
			t.Fatalf("socket from %s: %v", ip, err)
		}
	}
	resp, err := dial("2001:db8:1:2:ffff:ffff:ffff:ffff")
	if err == nil {
		t.Fatal("a 4th socket from one /64 was accepted with --max-sockets-per-ip 3")
	}
	if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("4th socket of the /64: %v, response %+v", err, resp)
	}
	if _, err := dial("2001:db8:1:3::a"); err != nil {
		t.Fatalf("a socket from the next /64: %v", err)
	}

	// One address of a /64 drains the bucket; another of the same /64
	// finds it drained, while the next /64 has its own.
	collect := func(ip string, n int) int {
		body, _ := json.Marshal(protocol.CollectRequest{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Events: batch(n)})
		status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body, "X-Forwarded-For", ip)
		if status != 200 && status != 429 {
			t.Fatalf("collect from %s: %d %s", ip, status, b)
		}
		return status
	}
	eq(t, "a full burst from 2001:db8:1:2::a", collect("2001:db8:1:2::a", 500), 200)
	eq(t, "the same /64 from 2001:db8:1:2::b", collect("2001:db8:1:2::b", 50), 429)
	eq(t, "the next /64", collect("2001:db8:1:3::a", 50), 200)
}
