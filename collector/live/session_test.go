package live_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/live"
)

// nowhere is a socket that is never written to here.
type nowhere struct{}

func (nowhere) Write(context.Context, websocket.MessageType, []byte) error { return nil }
func (nowhere) Close(websocket.StatusCode, string) error                   { return nil }

// TestSessionSocketCap: sessions (the edge's sockets) count against
// MaxSocketsPerIP as ServeSocket's do: one over the cap gets the 429
// problem, and End, once, gives the slot back; a refusal keeps none.
func TestSessionSocketCap(t *testing.T) {
	hub := live.New(live.Config{MaxSocketsPerIP: 2, AllowedOrigins: []string{"http://shop.example"}})
	open := func(ip string) (*live.Session, int) {
		t.Helper()
		r := httptest.NewRequest("GET", "/v1/ws", nil)
		r.RemoteAddr = ip + ":4711"
		r.Header.Set("Origin", "http://shop.example")
		w := httptest.NewRecorder()
		s, ok := hub.OpenSession(w, r, nowhere{})
		if ok != (s != nil) || ok != (w.Code == http.StatusOK && w.Body.Len() == 0) {
			t.Fatalf("OpenSession from %s: ok %v with answer %d %s", ip, ok, w.Code, w.Body)
		}
		return s, w.Code
	}
	first, _ := open("203.0.113.1")
	second, _ := open("203.0.113.1")
	if _, code := open("203.0.113.1"); code != http.StatusTooManyRequests {
		t.Fatalf("a third socket of one address: %d, want 429", code)
	}
	other, _ := open("203.0.113.2")
	first.End()
	first.End() // a second End must not give back a slot it does not hold
	again, _ := open("203.0.113.1")
	if _, code := open("203.0.113.1"); code != http.StatusTooManyRequests {
		t.Fatalf("after End twice, a socket over the cap: %d, want 429", code)
	}
	for _, s := range []*live.Session{second, again, other} {
		s.End()
	}

	r := httptest.NewRequest("GET", "/v1/ws", nil)
	r.Header.Set("Origin", "http://elsewhere.example")
	w := httptest.NewRecorder()
	if _, ok := hub.OpenSession(w, r, nowhere{}); ok || w.Code != http.StatusForbidden {
		t.Fatalf("an origin not allowed: ok %v, %d; want 403", ok, w.Code)
	}
	// The refused request came from httptest's address, 192.0.2.1.
	if _, code := open("192.0.2.1"); code != http.StatusOK {
		t.Fatalf("a refused origin kept its address's slot: %d", code)
	}
}
