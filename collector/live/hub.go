package live

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
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
	// RateLimit is the events per second one client IP (an IPv6 /64)
	// may send, over all its WebSocket frames and /v1/collect requests
	// together, with a burst of twice that (at least a full batch). Every
	// request and frame counts at least one, hello included. 0 turns it
	// off.
	RateLimit int
	// MaxSocketsPerIP is how many WebSockets one client address (after
	// TrustedProxies; an IPv6 /64 counts as one) may hold open; more are refused with 429 before the
	// upgrade. Each costs memory (about 28 KB), so without a cap one
	// address could exhaust the collector's. 0 turns the cap off.
	MaxSocketsPerIP int
	Logger          *slog.Logger
	// Signer verifies recognition tokens in the collector's cookies, and
	// Handoffs issues and redeems handoff tokens (docs/identity.md#cross-domain-handoff); Links
	// is the store behind both. Without them the collector keeps no
	// cookies and does no handoffs.
	Signer   *identity.Signer
	Handoffs *identity.Handoffs
	Links    collector.LinkStore
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Observer, if set, hears the number of open connections.
	Observer Observer
	// Peers carries pushes to the other collectors on the same database
	// (PostgreSQL); nil with one node.
	Peers Peers
}

// Observer hears the number of open WebSocket connections, for metrics.
type Observer interface {
	Connections(open int)
}

// Hub serves browsers and tracks their WebSocket connections by the
// subject whose visitor data each may see. Its parts live by concern:
// the registry of connections and shutdown here, the sockets' admission
// in sockets.go, the subscriptions in subscriptions.go, the visit index
// in visits.go, the other nodes in peers.go; the endpoints each in their
// own file (conn.go, collect.go, cookies.go, handoff.go).
type Hub struct {
	cfg      Config
	origins  map[string]bool
	anyOrig  bool
	writable map[string]bool
	limiter  *ipLimiter // nil: no limit

	// handoffsRefused counts refused handoff tokens, so that they are
	// logged without flooding the log (see refuseHandoff).
	handoffsRefused atomic.Int64

	// mu guards the registry of connections and the subscriptions.
	mu      sync.Mutex
	conns   map[*conn]struct{}
	subs    connSet[string] // subject key → connections (subscriptions.go)
	closing bool

	sockets socketSlots // open sockets by client address (sockets.go)
	visits  visitIndex  // open connections by visit, for Notify (visits.go)

	collectBufs collectPool // the reused buffers of ServeCollect (collect.go)
}

// New returns a Hub.
func New(cfg Config) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	h := &Hub{
		cfg: cfg, origins: map[string]bool{}, writable: map[string]bool{},
		conns: map[*conn]struct{}{}, sockets: socketSlots{max: cfg.MaxSocketsPerIP},
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

// register enters an accepted connection into the registry that Shutdown
// closes and Connections counts; false once the hub is shutting down.
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

// unregister forgets an ended connection everywhere the hub knows it:
// the registry, its subscription and the visit index.
func (h *Hub) unregister(c *conn) {
	h.visits.remove(c)
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	if h.cfg.Observer != nil {
		h.cfg.Observer.Connections(len(h.conns))
	}
	h.subs.remove(c)
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
