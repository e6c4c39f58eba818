package live

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
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
	Links    Links
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
// subject whose visitor data each may see.
type Hub struct {
	cfg      Config
	origins  map[string]bool
	anyOrig  bool
	writable map[string]bool
	limiter  *ipLimiter // nil: no limit

	// handoffsRefused counts refused handoff tokens, so that they are
	// logged without flooding the log (see refuseHandoff).
	handoffsRefused atomic.Int64

	mu      sync.Mutex
	subs    map[string]map[*conn]struct{} // subject key → connections
	conns   map[*conn]struct{}
	perIP   map[netip.Prefix]int // open sockets (and upgrades under way) by addrGroup
	closing bool

	visits visitIndex // open connections by visit, for Notify

	collectBufs sync.Pool // *collectBuffers of ServeCollect (collect.go)
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
		subs: map[string]map[*conn]struct{}{}, conns: map[*conn]struct{}{}, perIP: map[netip.Prefix]int{},
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

// ServeSocket is the route of GET /v1/ws: ServeWS behind the cap of
// MaxSocketsPerIP. The cap is checked before the upgrade, so a refused
// client gets a plain 429 problem and costs no socket; the slot is held
// until the connection ends.
func (h *Hub) ServeSocket(w http.ResponseWriter, r *http.Request) {
	ip := h.clientIP(r)
	if !h.admit(ip) {
		h.refuseSocket(w)
		return
	}
	defer h.release(ip)
	h.ServeWS(w, r)
}

// refuseSocket answers an upgrade over the cap of MaxSocketsPerIP.
func (h *Hub) refuseSocket(w http.ResponseWriter) {
	writeProblem(w, http.StatusTooManyRequests, "too_many_sockets",
		"this address holds "+strconv.Itoa(h.cfg.MaxSocketsPerIP)+" open WebSockets, the most --max-sockets-per-ip allows")
}

// admit takes one of the socket slots of ip's group (addrGroup: an IPv6
// /64 shares them), or reports that none is left.
func (h *Hub) admit(ip string) bool {
	key := ipGroup(ip)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cfg.MaxSocketsPerIP > 0 && h.perIP[key] >= h.cfg.MaxSocketsPerIP {
		return false
	}
	h.perIP[key]++
	return true
}

// release gives back a slot that admit took.
func (h *Hub) release(ip string) {
	key := ipGroup(ip)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.perIP[key]--; h.perIP[key] <= 0 {
		delete(h.perIP, key)
	}
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
	h.pushLocal(vd)
	if h.cfg.Peers != nil {
		h.cfg.Peers.VisitorDataChanged(vd.Subject, vd.Version)
	}
}

// pushLocal pushes a change to this hub's connections of its subject.
func (h *Hub) pushLocal(vd *collector.VisitorData) {
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
	h.subjectErased(s)
	if h.cfg.Peers != nil {
		h.cfg.Peers.SubjectErased(s)
	}
}

// subjectErased resyncs this hub's connections of the erased subject.
func (h *Hub) subjectErased(s collector.Subject) {
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
		h.logReadError(ctx, s, err)
	}
	return vd, err
}

// logReadError logs a failed read of visitor data: an error, unless the
// edge's collect decided from a kept visit (ingest.Speculative), whose
// batch, the read included, fails when the visit changed meanwhile and
// runs again; each visit that ends would log an error otherwise.
func (h *Hub) logReadError(ctx context.Context, s collector.Subject, err error) {
	level := slog.LevelError
	if ingest.Speculative(ctx) {
		level = slog.LevelDebug
	}
	h.cfg.Logger.Log(ctx, level, "read visitor data", "subject", s.Key(), "err", err)
}

// visitorData returns the snapshot the browser of v may see.
func (h *Hub) visitorData(ctx context.Context, v ingest.Visit) protocol.VisitorDataView {
	view := protocol.VisitorDataView{Type: protocol.TypeVisitorData, Data: protocol.RawJSON("{}")}
	if h.cfg.VisitorData == nil || v.Cookieless {
		return view // a cookieless visit has no visitor data
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(ctx, v.Subject())
	if err != nil {
		h.logReadError(ctx, v.Subject(), err)
		return view
	}
	view.Version, view.Data = vd.Version, protocol.RawJSON(vd.Data)
	return view
}

// OpenVisits returns the visit ids of the open connections that have been
// welcomed, one per visit (api.Config.Connections).
func (h *Hub) OpenVisits(context.Context) ([]string, error) {
	return h.visits.ids(), nil
}
