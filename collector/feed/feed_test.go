package feed

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
)

func next(t *testing.T, s *Subscription) Message {
	t.Helper()
	select {
	case m, ok := <-s.Messages():
		if !ok {
			t.Fatalf("subscription ended: %v", s.Err())
		}
		return m
	case <-time.After(time.Minute):
		t.Fatal("no message within a minute")
	}
	return Message{}
}

func TestFeedDeliversByKind(t *testing.T) {
	h := New(Options{})
	defer h.Close()
	both, _ := h.Subscribe(Filter{VisitorData: true, Events: true})
	vdOnly, _ := h.Subscribe(Filter{VisitorData: true})
	evOnly, _ := h.Subscribe(Filter{Events: true})

	h.VisitorDataChanged(&collector.VisitorData{
		Subject: collector.Subject{Kind: collector.SubjectIdentity, ID: "01JD0200000000000000000001"},
		Version: 3, Data: json.RawMessage(`{"crm":{"a":1}}`),
	})
	h.PublishEvents([]*collector.Event{{EventID: "E1", Name: "Checkout", Data: json.RawMessage(`{"total":3}`)}, {EventID: "E2", Name: "PageEntered"}})

	want := `{"subject":"identity:01JD0200000000000000000001","identityId":"01JD0200000000000000000001","version":3,"data":{"crm":{"a":1}}}`
	for _, s := range []*Subscription{both, vdOnly} {
		if m := next(t, s); m.Kind != KindVisitorData || string(m.Data) != want {
			t.Fatalf("got %s %s, want visitorData %s", m.Kind, m.Data, want)
		}
	}
	for _, s := range []*Subscription{both, evOnly} {
		for _, id := range []string{"E1", "E2"} {
			m := next(t, s)
			var e collector.Event
			if err := json.Unmarshal(m.Data, &e); err != nil || m.Kind != KindEvent || e.EventID != id {
				t.Fatalf("got %s %s, want event %s", m.Kind, m.Data, id)
			}
		}
	}
	// Nothing else was routed to the one-kind subscribers: the next thing
	// each gets is a sentinel of its own kind, published after everything
	// above (delivery keeps the order of publication).
	h.VisitorDataChanged(&collector.VisitorData{
		Subject: collector.Subject{Kind: collector.SubjectVisitor, ID: "01JD0100000000000000000009"}, Version: 9, Data: json.RawMessage(`{}`),
	})
	h.PublishEvents([]*collector.Event{{EventID: "SENTINEL", Name: "Sentinel"}})
	if m := next(t, vdOnly); m.Kind != KindVisitorData || !strings.Contains(string(m.Data), `"version":9`) {
		t.Fatalf("visitorData-only subscriber got %s %s, want the sentinel change", m.Kind, m.Data)
	}
	if m := next(t, evOnly); m.Kind != KindEvent || !strings.Contains(string(m.Data), "SENTINEL") {
		t.Fatalf("event-only subscriber got %s %s, want the sentinel event", m.Kind, m.Data)
	}
	vdOnly.Close()
	if _, ok := <-vdOnly.Messages(); ok || vdOnly.Err() != nil {
		t.Fatalf("closed subscription: open or err %v", vdOnly.Err())
	}
	if st := h.Stats(); st.Subscribers != 2 {
		t.Fatalf("stats %+v", st)
	}
}

// A subscriber that does not read is ended; publishers never wait for it,
// and the others keep receiving.
func TestFeedEndsSlowSubscriber(t *testing.T) {
	h := New(Options{Buffer: 8, Inbox: 64})
	defer h.Close()
	slow, _ := h.Subscribe(Filter{Events: true})
	fast, _ := h.Subscribe(Filter{Events: true})
	for i := range 20 {
		// Publishing returns though slow never reads: with a full buffer
		// it would block forever, not a little longer.
		published := make(chan struct{})
		go func() {
			defer close(published)
			h.PublishEvents([]*collector.Event{{EventID: string(rune('a' + i))}})
		}()
		select {
		case <-published:
		case <-time.After(time.Minute):
			t.Fatalf("publishing event %d blocked on the slow subscriber", i)
		}
		var e collector.Event
		if m := next(t, fast); json.Unmarshal(m.Data, &e) != nil || e.EventID != string(rune('a'+i)) {
			t.Fatalf("fast subscriber got %s at %d", m.Data, i)
		}
	}
	n := 0
	for range slow.Messages() {
		n++
	}
	if n != 8 || !errors.Is(slow.Err(), ErrSlow) || h.Stats().Ended != 1 || h.Stats().Subscribers != 1 {
		t.Fatalf("slow subscriber: %d buffered, err %v, stats %+v", n, slow.Err(), h.Stats())
	}
}

// When the inbox overflows, every subscriber has missed something: all
// are ended so that they resynchronise.
func TestFeedOverflowEndsAll(t *testing.T) {
	h := New(Options{Buffer: 1 << 16, Inbox: 1})
	defer h.Close()
	s, _ := h.Subscribe(Filter{Events: true})
	// Stall the hub's goroutine in deliver, so that the inbox fills: it
	// holds one change at most, and the goroutine takes at most one more
	// before it waits for the lock, so a few publications overflow.
	h.mu.Lock()
	for i := 0; h.overflows.Load() == 0 && i < 1000; i++ {
		h.PublishEvents([]*collector.Event{{EventID: "x"}})
	}
	overflows := h.overflows.Load()
	h.mu.Unlock()
	if overflows == 0 {
		t.Fatal("the inbox of one never overflowed while the hub was stalled")
	}
	h.PublishEvents([]*collector.Event{{EventID: "y"}})
	deadline := time.After(time.Minute)
	for {
		select {
		case _, ok := <-s.Messages():
			if !ok {
				if !errors.Is(s.Err(), ErrSlow) {
					t.Fatalf("err %v", s.Err())
				}
				return
			}
		case <-deadline:
			t.Fatal("subscriber not ended after an overflow")
		}
	}
}

func TestFeedClose(t *testing.T) {
	h := New(Options{})
	s, _ := h.Subscribe(Filter{VisitorData: true})
	h.Close()
	if _, ok := <-s.Messages(); ok || !errors.Is(s.Err(), ErrClosed) {
		t.Fatalf("after Close: err %v", s.Err())
	}
	if _, err := h.Subscribe(Filter{Events: true}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Subscribe after Close: %v", err)
	}
	h.PublishEvents([]*collector.Event{{EventID: "x"}}) // no subscriber, no panic
}
