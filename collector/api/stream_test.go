package api

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/feed"
)

func TestStreamScopes(t *testing.T) {
	e := newVDEnv(t)
	for _, c := range []struct {
		name, token, query string
		status             int
	}{
		{"no read scope", "mdWrite", "", 403},
		{"events without history:read", "reader", "?types=event", 403},
		{"visitor data without visitordata:read", "history", "?types=visitorData", 403},
		{"unknown type", "admin", "?types=metadata", 400},
		{"unknown parameter", "admin", "?subject=x", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			if s := e.openStream(c.token, c.query); s.status != c.status {
				t.Fatalf("status %d, want %d: %s", s.status, c.status, s.all())
			}
		})
	}
	if s := e.openStream("", ""); s.status != 401 {
		t.Fatalf("no token: %d", s.status)
	}

	vdOnly := e.openStream("reader", "")
	evOnly := e.openStream("history", "")
	both := e.openStream("admin", "?types=visitorData,event")
	e.patch("crm", "crm_integration", `{"a":1}`).want(t, 200, "")
	e.hub.PublishEvents([]*collector.Event{{EventID: "01JD0500000000000000000001", VisitID: e.visit, Name: "Checkout", Category: "business", Data: json.RawMessage(`{"total":12}`)}})

	if ev := vdOnly.next(t); ev.event != feed.KindVisitorData {
		t.Fatalf("visitor-data follower got %s", ev.event)
	}
	ev := evOnly.next(t)
	var got collector.Event
	if ev.event != feed.KindEvent || json.Unmarshal([]byte(ev.data), &got) != nil || got.Name != "Checkout" || string(got.Data) != `{"total":12}` {
		t.Fatalf("event follower got %s %s", ev.event, ev.data)
	}
	if a, b := both.next(t), both.next(t); a.event != feed.KindVisitorData || b.event != feed.KindEvent {
		t.Fatalf("follower of both got %s then %s", a.event, b.event)
	}
	// Nothing crossed over: the next thing each one-kind stream carries is
	// a sentinel of its own kind, published after everything above.
	e.patch("crm", "crm_integration", `{"sentinel":true}`).want(t, 200, "")
	e.hub.PublishEvents([]*collector.Event{{EventID: "01JD0500000000000000000009", VisitID: e.visit, Name: "Sentinel"}})
	if ev := vdOnly.next(t); ev.event != feed.KindVisitorData || !strings.Contains(ev.data, "sentinel") {
		t.Fatalf("visitor-data follower got %s %s, want the sentinel change", ev.event, ev.data)
	}
	if ev := evOnly.next(t); ev.event != feed.KindEvent || !strings.Contains(ev.data, "Sentinel") {
		t.Fatalf("event follower got %s %s, want the sentinel event", ev.event, ev.data)
	}
	// An idle stream is kept alive (every 100 ms here).
	for deadline := time.Now().Add(time.Minute); !strings.Contains(vdOnly.all(), ": ping"); {
		if time.Now().After(deadline) {
			t.Fatal("no keep-alive on an idle stream within a minute")
		}
		time.Sleep(10 * time.Millisecond) // poll interval
	}
}

// Closing the hub (at shutdown) ends every stream with a reset event, so
// that the HTTP server can finish its shutdown.
func TestStreamEndsOnClose(t *testing.T) {
	e := newVDEnv(t)
	s := e.openStream("reader", "")
	e.hub.Close()
	ev := s.next(t)
	if ev.event != "reset" || !strings.Contains(ev.data, "shutting down") {
		t.Fatalf("got %s %s", ev.event, ev.data)
	}
	select {
	case _, ok := <-s.events:
		if ok {
			t.Fatal("stream went on after reset")
		}
	case <-time.After(time.Minute):
		t.Fatal("stream did not end")
	}
	if s := e.openStream("reader", ""); s.status != 503 {
		t.Fatalf("stream after close: %d", s.status)
	}
}
