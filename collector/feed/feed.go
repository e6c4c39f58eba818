// Package feed is the collector's change feed for backend systems: it fans
// visitor-data changes and newly stored events out to the subscribers of
// GET /v1/stream (see package api), so that a CRM can follow instead of
// polling.
//
// The feed never slows down the paths that feed it. Publishing hands the
// change to the hub's own goroutine through a bounded inbox and returns at
// once; the goroutine encodes each change once and offers it to every
// subscriber without waiting. A subscriber that falls a full buffer behind
// is ended (reason ErrSlow) rather than waited for, and if the inbox
// itself overflows, every subscriber is ended, because each has missed a
// change. Ended subscribers reconnect and read the current state again
// through the REST API; the feed keeps no history to replay.
//
// It carries only visitor data (which may be shown to the visitor anyway)
// and events. Internal metadata has no way in: the hub takes
// *collector.VisitorData and *collector.Event values only.
package feed

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/visitrack/visitrack/collector"
)

// Message kinds; they are the SSE event names.
const (
	KindVisitorData = "visitorData"
	KindEvent       = "event"
)

// Why a subscription ended.
var (
	ErrSlow   = errors.New("feed: the subscriber fell behind and missed changes; reconnect and read the current state")
	ErrClosed = errors.New("feed: the collector is shutting down")
)

// Message is one change, encoded once and shared by every subscriber: do
// not modify Data.
type Message struct {
	Kind string
	Data []byte // JSON
}

// VisitorDataMessage is the Data of a KindVisitorData message: the
// subject's whole document after the change.
type VisitorDataMessage struct {
	Subject    string          `json:"subject"` // "identity:<id>" or "visitor:<id>"
	IdentityID string          `json:"identityId,omitempty"`
	VisitorID  string          `json:"visitorId,omitempty"`
	Version    int64           `json:"version"`
	Data       json.RawMessage `json:"data"`
}

// Filter says which kinds a subscriber receives.
type Filter struct {
	VisitorData bool
	Events      bool
}

func (f Filter) wants(kind string) bool {
	return kind == KindVisitorData && f.VisitorData || kind == KindEvent && f.Events
}

// Options sizes a Hub; zero values take the defaults.
type Options struct {
	// Buffer is how many messages a subscriber may be behind before it is
	// ended (default 1024).
	Buffer int
	// Inbox is how many published changes may wait for the hub's goroutine
	// (default 4096).
	Inbox int
}

// Stats counts what the hub did.
type Stats struct {
	Subscribers int
	Published   int64 // changes taken from publishers
	Overflows   int64 // changes refused because the inbox was full
	Ended       int64 // subscribers ended for falling behind
}

// Hub is the feed. Create it with New and end it with Close.
type Hub struct {
	opt   Options
	inbox chan item
	done  chan struct{}

	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	closed  bool
	wantsVD atomic.Int32 // subscribers per kind, so that publishers skip
	wantsEv atomic.Int32 // work nobody wants

	overflowed atomic.Bool
	published  atomic.Int64
	overflows  atomic.Int64
	ended      atomic.Int64
}

// item is one published change waiting in the inbox.
type item struct {
	vd     *collector.VisitorData
	events []*collector.Event
}

// New starts a hub.
func New(opt Options) *Hub {
	if opt.Buffer <= 0 {
		opt.Buffer = 1024
	}
	if opt.Inbox <= 0 {
		opt.Inbox = 4096
	}
	h := &Hub{opt: opt, inbox: make(chan item, opt.Inbox), done: make(chan struct{}), subs: map[*Subscription]struct{}{}}
	go h.run()
	return h
}

// VisitorDataChanged publishes a committed visitor-data change; it makes
// the hub a collector.VisitorDataListener (see store.VisitorData). It
// never blocks.
func (h *Hub) VisitorDataChanged(vd *collector.VisitorData) {
	if h.wantsVD.Load() == 0 {
		return
	}
	h.offer(item{vd: vd})
}

// PublishEvents publishes events that were just durably stored. Ingest
// calls it after each commit; it never blocks, and it costs nothing
// when no subscriber follows events. The hub keeps the slice and the
// events: the caller must not change them afterwards.
func (h *Hub) PublishEvents(events []*collector.Event) {
	if len(events) == 0 || h.wantsEv.Load() == 0 {
		return
	}
	h.offer(item{events: events})
}

func (h *Hub) offer(it item) {
	select {
	case h.inbox <- it:
		h.published.Add(1)
	default:
		h.overflows.Add(1)
		h.overflowed.Store(true)
	}
}

// Subscribe adds a subscriber for the kinds f selects. It fails with
// ErrClosed after Close.
func (h *Hub) Subscribe(f Filter) (*Subscription, error) {
	s := &Subscription{hub: h, filter: f, c: make(chan Message, h.opt.Buffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	h.subs[s] = struct{}{}
	if f.VisitorData {
		h.wantsVD.Add(1)
	}
	if f.Events {
		h.wantsEv.Add(1)
	}
	return s, nil
}

// Close ends every subscription (ErrClosed) and stops the hub. Call it
// before shutting the HTTP server down: streams end only when their
// subscription does.
func (h *Hub) Close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	for s := range h.subs {
		h.endLocked(s, ErrClosed)
	}
	h.mu.Unlock()
	close(h.done)
}

// Stats returns the hub's counters.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	n := len(h.subs)
	h.mu.Unlock()
	return Stats{Subscribers: n, Published: h.published.Load(), Overflows: h.overflows.Load(), Ended: h.ended.Load()}
}

func (h *Hub) run() {
	for {
		select {
		case <-h.done:
			return
		case it := <-h.inbox:
			if h.overflowed.Swap(false) {
				h.endAll(ErrSlow)
			}
			h.deliver(encode(it))
		}
	}
}

// encode turns a change into messages, once for all subscribers.
func encode(it item) []Message {
	if it.vd != nil {
		m := VisitorDataMessage{Subject: it.vd.Subject.Key(), Version: it.vd.Version, Data: it.vd.Data}
		switch it.vd.Subject.Kind {
		case collector.SubjectIdentity:
			m.IdentityID = it.vd.Subject.ID
		case collector.SubjectVisitor:
			m.VisitorID = it.vd.Subject.ID
		}
		if len(m.Data) == 0 {
			m.Data = json.RawMessage("{}")
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil
		}
		return []Message{{Kind: KindVisitorData, Data: b}}
	}
	out := make([]Message, 0, len(it.events))
	for _, e := range it.events {
		b, err := json.Marshal(e)
		if err != nil {
			continue // an event that cannot be encoded is left out
		}
		out = append(out, Message{Kind: KindEvent, Data: b})
	}
	return out
}

func (h *Hub) deliver(msgs []Message) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		for _, m := range msgs {
			if !s.filter.wants(m.Kind) {
				continue
			}
			select {
			case s.c <- m:
			default:
				h.endLocked(s, ErrSlow)
				h.ended.Add(1)
			}
			if s.err != nil {
				break
			}
		}
	}
}

func (h *Hub) endAll(reason error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.endLocked(s, reason)
		h.ended.Add(1)
	}
}

// endLocked removes s and closes its channel; h.mu is held.
func (h *Hub) endLocked(s *Subscription, reason error) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	if s.filter.VisitorData {
		h.wantsVD.Add(-1)
	}
	if s.filter.Events {
		h.wantsEv.Add(-1)
	}
	s.err = reason
	close(s.c)
}

// Subscription is one subscriber's queue of messages.
type Subscription struct {
	hub    *Hub
	filter Filter
	c      chan Message
	err    error // set under hub.mu before c is closed
}

// Messages returns the subscriber's messages. The channel is closed when
// the subscription ends; Err then says why.
func (s *Subscription) Messages() <-chan Message { return s.c }

// Err returns why the subscription ended (ErrSlow, ErrClosed), or nil
// while it lasts or when the subscriber closed it. Read it after Messages
// is closed.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the subscription; its channel is closed.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	if _, ok := s.hub.subs[s]; ok {
		s.hub.endLocked(s, nil)
	}
}
