package live

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// closedSocket is a socket whose close returns at once, as one the
// browser already dropped does.
type closedSocket struct{}

func (closedSocket) Write(context.Context, websocket.MessageType, []byte) error { return nil }
func (closedSocket) Close(websocket.StatusCode, string) error                   { return nil }

// Shutdown returns only once every registered connection has ended: a
// conversation still handling a frame after its socket closed uses the
// store, which the daemon closes right after (a SQLite file closed under
// it kept its write-ahead log).
func TestShutdownWaitsForConversations(t *testing.T) {
	h := New(Config{})
	c := h.newConn(closedSocket{}, httptest.NewRequest("GET", "/v1/ws", nil), handshakeState{})
	if !h.register(c) {
		t.Fatal("register refused before shutdown")
	}
	done := make(chan struct{})
	go func() { h.Shutdown(context.Background()); close(done) }()
	select {
	case <-done:
		t.Fatal("Shutdown returned while a conversation was still running")
	case <-time.After(50 * time.Millisecond):
	}
	if h.register(h.newConn(closedSocket{}, httptest.NewRequest("GET", "/v1/ws", nil), handshakeState{})) {
		t.Error("a connection was registered while shutting down")
	}
	h.unregister(c)
	h.unregister(c) // a second time is harmless
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return after the conversation ended")
	}

	// Bounded by its context.
	h2 := New(Config{})
	h2.register(h2.newConn(closedSocket{}, httptest.NewRequest("GET", "/v1/ws", nil), handshakeState{}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	h2.Shutdown(ctx)
}
