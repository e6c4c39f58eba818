package live_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// rawConn is one TCP connection to the collector, from a chosen loopback
// address, speaking HTTP/1.1 by hand: the test knows which connection
// each request travels on, which an http.Client hides.
type rawConn struct {
	net.Conn
	br *bufio.Reader
}

// openConn connects to addr from the loopback address from (127.0.0.x:
// all of 127/8 is the loopback interface, so each is another client
// address to the collector).
func openConn(t *testing.T, addr, from string) *rawConn {
	t.Helper()
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connect from %s: %v", from, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawConn{Conn: nc, br: bufio.NewReader(nc)}
}

// get sends GET path (header: name, value pairs) and reads the answer, or
// returns the error that ended the connection instead.
func (c *rawConn) get(path string, header ...string) (*http.Response, []byte, error) {
	var h strings.Builder
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&h, "%s: %s\r\n", header[i], header[i+1])
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	defer c.SetDeadline(time.Time{})
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: collector.test\r\n%s\r\n", path, h.String()); err != nil {
		return nil, nil, err
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return nil, nil, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b, err
}

// mustGet is get of /healthz, which must answer 200.
func (c *rawConn) mustGet(t *testing.T, what string) {
	t.Helper()
	resp, b, err := c.get("/healthz")
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %s", what, resp.StatusCode, b)
	}
}

// closedWithin waits up to d for the collector to close c, and reports
// whether it did (EOF or a reset) and when.
func (c *rawConn) closedWithin(d time.Duration) (bool, time.Duration) {
	start := time.Now()
	c.SetReadDeadline(start.Add(d))
	_, err := c.br.ReadByte()
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, time.Since(start)
	}
	return err != nil, time.Since(start)
}

// TestIdleConnectionsClosed: a kept-alive connection serves its next
// request within --idle-timeout, and is closed by the collector once it
// has waited that long for one.
func TestIdleConnectionsClosed(t *testing.T) {
	col := collectortest.Start(t, "--idle-timeout", "1s")
	c := openConn(t, col.Addr(), "127.0.0.1")
	c.mustGet(t, "first request")
	time.Sleep(100 * time.Millisecond) // idle, well within the timeout
	c.mustGet(t, "a request on the kept-alive connection")
	closed, after := c.closedWithin(10 * time.Second)
	if !closed {
		t.Fatalf("an idle connection was still open %v after its last answer with --idle-timeout 1s", after)
	}
	if after < 900*time.Millisecond {
		t.Fatalf("an idle connection was closed after %v, before --idle-timeout 1s", after)
	}
}

// TestConnectionsPerIPCap: one client address holds at most
// --max-connections-per-ip open connections, counted from the moment
// they are accepted; the next is answered 429 too_many_connections and
// closed, another address is not affected, a closed connection frees its
// slot, and /metrics counts the refusal.
func TestConnectionsPerIPCap(t *testing.T) {
	col := collectortest.Start(t, "--max-connections-per-ip", "3")
	var held []*rawConn
	for i := range 3 {
		c := openConn(t, col.Addr(), "127.0.0.1")
		c.mustGet(t, fmt.Sprintf("connection %d", i+1))
		held = append(held, c)
	}

	over := openConn(t, col.Addr(), "127.0.0.1")
	resp, b, err := over.get("/healthz")
	if err != nil {
		t.Fatalf("a 4th connection with --max-connections-per-ip 3 got no answer: %v", err)
	}
	var p struct {
		Status int
		Code   string
		Detail string
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(b, &p) != nil || p.Status != 429 || p.Code != "too_many_connections" ||
		p.Detail != "this address holds 3 open connections, the most --max-connections-per-ip allows" {
		t.Fatalf("4th connection: %d %v %s", resp.StatusCode, resp.Header, b)
	}
	if !resp.Close {
		t.Fatal("the refusal does not say Connection: close")
	}
	if closed, after := over.closedWithin(10 * time.Second); !closed {
		t.Fatalf("the refused connection was still open %v after its answer", after)
	}
	// The held connections still serve.
	held[1].mustGet(t, "a held connection after the refusal")

	// Another address is not affected; it reads the count of the refusal.
	other := openConn(t, col.Addr(), "127.0.0.2")
	resp, b, err = other.get("/metrics", "Authorization", "Bearer "+col.AdminToken)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/metrics from another address: %v %v %s", err, resp, b)
	}
	for _, want := range []string{"visitrack_http_connections_refused_total 1\n", "visitrack_http_connections 4\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// A closed connection frees its slot once the collector has seen it
	// close.
	held[0].Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		c := openConn(t, col.Addr(), "127.0.0.1")
		resp, b, err := c.get("/healthz")
		if err == nil && resp.StatusCode == http.StatusOK {
			break
		}
		if err == nil && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("after a close: %d %s", resp.StatusCode, b)
		}
		c.Close()
		if ctx.Err() != nil {
			t.Fatalf("the closed connection's slot was never freed: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling the condition: the server's close
	}
}

// TestConnectionsCapSparesProxiesAndSockets: a trusted proxy's
// connections carry all its clients, so they are not capped, while an
// untrusted address is; and a WebSocket leaves the count of plain
// connections once upgraded (--max-sockets-per-ip caps those).
func TestConnectionsCapSparesProxiesAndSockets(t *testing.T) {
	col := collectortest.Start(t, "--max-connections-per-ip", "1", "--trusted-proxies", "127.0.0.1/32")
	for i := range 3 {
		openConn(t, col.Addr(), "127.0.0.1").mustGet(t, fmt.Sprintf("proxy connection %d", i+1))
	}
	openConn(t, col.Addr(), "127.0.0.2").mustGet(t, "an untrusted address's first connection")
	resp, _, err := openConn(t, col.Addr(), "127.0.0.2").get("/healthz")
	if err != nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("an untrusted address's second connection: %v %v", err, resp)
	}

	// From 127.0.0.3 (untrusted), three WebSockets one after the other,
	// then a plain request: each upgrade held the one slot only until it
	// was hijacked.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.3")}}
	client := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	for i := range 3 {
		ws, _, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{
			Subprotocols: []string{protocol.Subprotocol}, HTTPClient: client})
		if err != nil {
			t.Fatalf("WebSocket %d: %v", i+1, err)
		}
		defer ws.CloseNow()
		c := &collectortest.Client{Conn: ws}
		hello, _ := json.Marshal(protocol.Hello{Type: protocol.TypeHello})
		if err := ws.Write(ctx, websocket.MessageText, hello); err != nil {
			t.Fatalf("WebSocket %d: %v", i+1, err)
		}
		if typ, b, err := c.Read(); err != nil || typ != protocol.TypeWelcome {
			t.Fatalf("WebSocket %d: %v %s", i+1, err, b)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", col.URL()+"/healthz", nil)
	r, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusOK {
		t.Fatalf("a plain request beside three WebSockets: %d", r.StatusCode)
	}
}
