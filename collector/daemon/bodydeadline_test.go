package daemon_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestSlowBodyIsCutOff (docs/security.md#connections): a client that sends its headers and then
// trickles its body gets an answer and a closed connection once
// --body-timeout has passed, long before its body would be complete. A
// WebSocket and a /v1/stream opened before live on past the deadline:
// it bounds bodies, not connections.
func TestSlowBodyIsCutOff(t *testing.T) {
	col := collectortest.Start(t, "--body-timeout", "300ms")
	ws := collectortest.Dial(t, col.WSURL(), protocol.Hello{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", col.URL()+"/v1/stream?types=event", nil)
	req.Header.Set("Authorization", "Bearer "+col.AdminToken)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Body.Close()
	streamLines := bufio.NewScanner(stream.Body)

	// 1,000 bytes at one per 50 ms would take 50 s.
	conn, err := net.Dial("tcp", col.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/collect HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{", col.Addr())
	started := time.Now()
	go func() {
		for i := 1; i < 1000; i++ {
			time.Sleep(50 * time.Millisecond) // the slow client's pace
			if _, err := conn.Write([]byte(" ")); err != nil {
				return // cut off
			}
		}
	}()
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the slow body within 30 s: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !res.Close {
		t.Fatalf("slow body: %d (close %v), want 400 and the connection closed", res.StatusCode, res.Close)
	}
	t.Logf("slow body answered after %v", time.Since(started).Round(time.Millisecond))

	// The deadline passed; the WebSocket and the stream still work.
	e := collectortest.Event("Checkout", "", nil)
	if ack, _ := ws.SendEvents(false, e); len(ack.EventIDs) != 1 {
		t.Fatalf("WebSocket after the body deadline: ack %+v", ack)
	}
	for streamLines.Scan() {
		if strings.HasPrefix(streamLines.Text(), "data: ") && strings.Contains(streamLines.Text(), e.EventID) {
			return
		}
	}
	t.Fatalf("the stream ended after the body deadline: %v", streamLines.Err())
}
