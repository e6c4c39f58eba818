package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Config configures a Hub.
type Config struct {
	Ingester *ingest.Ingester
	// VisitorData, if set, is sent in welcome and pushed on change.
	VisitorData collector.VisitorDataService
	// BrowserWritable lists the namespaces browsers may write.
	BrowserWritable []string
	// AllowedOrigins lists the origins (scheme://host[:port]) whose pages
	// may connect. "*" allows every origin: only for trying things out, as
	// any site could then write into your visitors' history.
	AllowedOrigins []string
	// TrustedProxies lists the reverse proxies whose X-Forwarded-For
	// names the client (see ParseTrustedProxies); none by default.
	TrustedProxies []netip.Prefix
	// RateLimit is the events per second one client IP may send, over
	// all its WebSocket frames and /v1/collect requests together, with a
	// burst of twice that (at least a full batch); 0 turns it off.
	RateLimit int
	Logger    *slog.Logger
	// Observer, if set, hears the number of open connections.
	Observer Observer
}

// Observer hears the number of open WebSocket connections, for metrics.
type Observer interface {
	Connections(open int)
}

// Hub serves browsers and tracks their WebSocket connections by the
// subject whose visitor data each may see.
type Hub struct {
	cfg      Config
	origins  map[string]bool
	anyOrig  bool
	writable map[string]bool
	limiter  *ipLimiter // nil: no limit

	mu      sync.Mutex
	subs    map[string]map[*conn]struct{} // subject key → connections
	conns   map[*conn]struct{}
	closing bool
}

// New returns a Hub.
func New(cfg Config) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Hub{
		cfg: cfg, origins: map[string]bool{}, writable: map[string]bool{},
		subs: map[string]map[*conn]struct{}{}, conns: map[*conn]struct{}{},
		limiter: newIPLimiter(cfg.RateLimit),
	}
	for _, o := range cfg.AllowedOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			h.anyOrig = true
		} else if k := originKey(o); k != "" {
			h.origins[k] = true
		}
	}
	for _, ns := range cfg.BrowserWritable {
		h.writable[strings.TrimSpace(ns)] = true
	}
	return h
}

// originAllowed reports whether the request's Origin may use the browser
// endpoints. A request without Origin is not from a browser page (a
// server, a test client) and carries no ambient cookies to abuse. The
// comparison is exact but for what browsers normalise (see originKey).
func (h *Hub) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || h.anyOrig || h.origins[originKey(o)]
}

func (h *Hub) register(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closing {
		return false
	}
	h.conns[c] = struct{}{}
	if h.cfg.Observer != nil {
		h.cfg.Observer.Connections(len(h.conns))
	}
	return true
}

func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	if h.cfg.Observer != nil {
		h.cfg.Observer.Connections(len(h.conns))
	}
	h.unsubscribeLocked(c)
}

// subscribe moves c to the subject's set.
func (h *Hub) subscribe(c *conn, subject string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.unsubscribeLocked(c)
	c.subject = subject
	set := h.subs[subject]
	if set == nil {
		set = map[*conn]struct{}{}
		h.subs[subject] = set
	}
	set[c] = struct{}{}
}

func (h *Hub) unsubscribeLocked(c *conn) {
	if set := h.subs[c.subject]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(h.subs, c.subject)
		}
	}
	c.subject = ""
}

// VisitorDataChanged pushes a committed change to the subject's open
// connections. It never blocks on a connection.
func (h *Hub) VisitorDataChanged(vd *collector.VisitorData) {
	key := vd.Subject.Key()
	for _, c := range h.subscribers(key) {
		c.push(key, vd)
	}
}

// subscribers returns the connections of a subject, so that the caller can
// reach them without holding mu.
func (h *Hub) subscribers(key string) []*conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	targets := make([]*conn, 0, len(h.subs[key]))
	for c := range h.subs[key] {
		targets = append(targets, c)
	}
	return targets
}

// Shutdown closes every connection with 1001 (going away) so that
// trackers reconnect elsewhere, and refuses new ones.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closing = true
	all := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		all = append(all, c)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.ws.Close(websocket.StatusGoingAway, "collector shutting down")
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Connections returns the number of open WebSocket connections.
func (h *Hub) Connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// SubjectErased makes the subject's open connections send the document
// as it is stored now. Erasure deletes it, and the versions of the next
// writes start again from 1, which the connections would otherwise take
// for old versions and not push.
func (h *Hub) SubjectErased(s collector.Subject) {
	key := s.Key()
	for _, c := range h.subscribers(key) {
		c.enqueuePush(pushItem{subject: key, resync: &s})
	}
}

// read returns the subject's stored document.
func (h *Hub) read(ctx context.Context, s collector.Subject) (*collector.VisitorData, error) {
	if h.cfg.VisitorData == nil {
		return &collector.VisitorData{Subject: s, Data: json.RawMessage("{}")}, nil
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(ctx, s)
	if err != nil {
		h.cfg.Logger.Error("read visitor data", "subject", s.Key(), "err", err)
	}
	return vd, err
}

// visitorData returns the snapshot the browser of v may see.
func (h *Hub) visitorData(ctx context.Context, v ingest.Visit) protocol.VisitorDataView {
	view := protocol.VisitorDataView{Type: protocol.TypeVisitorData, Data: protocol.RawJSON("{}")}
	if h.cfg.VisitorData == nil {
		return view
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(ctx, v.Subject())
	if err != nil {
		h.cfg.Logger.Error("read visitor data", "subject", v.Subject().Key(), "err", err)
		return view
	}
	view.Version, view.Data = vd.Version, protocol.RawJSON(vd.Data)
	return view
}
