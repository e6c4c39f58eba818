package rrproxy_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest/rrproxy"
)

// backendServer answers its name and the body it got, and echoes
// WebSocket messages prefixed with its name.
func backendServer(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") != "" {
			c, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			for {
				typ, msg, err := c.Read(r.Context())
				if err != nil {
					return
				}
				if err := c.Write(r.Context(), typ, append([]byte(name+":"), msg...)); err != nil {
					return
				}
			}
		}
		b, _ := io.ReadAll(r.Body)
		io.WriteString(w, name+":"+string(b))
	}))
	t.Cleanup(s.Close)
	return s
}

func post(t *testing.T, url, body string) string {
	t.Helper()
	resp, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %d %s", resp.StatusCode, b)
	}
	return string(b)
}

// Requests alternate between the backends, bodies included; WebSockets
// alternate per connection and are counted while open; a backend that
// refuses connections is skipped.
func TestRoundRobin(t *testing.T) {
	a, b := backendServer(t, "a"), backendServer(t, "b")
	p, err := rrproxy.Start(a.URL, b.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var got []string
	for i := range 4 {
		got = append(got, post(t, p.URL()+"/x", strings.Repeat("z", i)))
	}
	if want := "a:,b:z,a:zz,b:zzz"; strings.Join(got, ",") != want {
		t.Fatalf("answers %q, want %q", strings.Join(got, ","), want)
	}
	if p.Requests(0) != 2 || p.Requests(1) != 2 {
		t.Fatalf("requests %d, %d, want 2, 2", p.Requests(0), p.Requests(1))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var socks []string
	for range 2 {
		c, _, err := websocket.Dial(ctx, "ws://"+p.Addr()+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.CloseNow()
		if err := c.Write(ctx, websocket.MessageText, []byte("hi")); err != nil {
			t.Fatal(err)
		}
		_, msg, err := c.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		socks = append(socks, string(msg))
	}
	if strings.Join(socks, ",") != "a:hi,b:hi" {
		t.Fatalf("sockets answered %q, want a:hi,b:hi", socks)
	}
	if p.Sockets(0) != 1 || p.Sockets(1) != 1 {
		t.Fatalf("open sockets %d, %d, want 1, 1", p.Sockets(0), p.Sockets(1))
	}

	// a stops: its port refuses connections, so b answers everything.
	a.Close()
	for i := range 3 {
		if got := post(t, p.URL()+"/x", "q"); got != "b:q" {
			t.Fatalf("request %d with a down: %q, want b:q", i, got)
		}
	}
	b.Close()
	resp, err := http.Get(p.URL() + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("all backends down: %d, want 502", resp.StatusCode)
	}
}
