// Package server assembles the collector: ingest, the browser endpoints,
// the REST API, operations endpoints and the web files, behind one
// http.Handler. The native main and the edge main both build it; they
// differ only in the database they open and Config.Edge.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/api"
	"github.com/visitrack/visitrack/collector/engage"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/feed"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/problem"
	"github.com/visitrack/visitrack/collector/store"
)

// Config configures a Server.
type Config struct {
	Store *store.Store
	// RecognitionKey signs recognition tokens: at least 32 secret bytes
	// that stay the same across restarts (and across edge instances).
	RecognitionKey        []byte
	IdentitySecret        string
	RequireVerifiedSignIn bool
	VisitTimeout          time.Duration
	AllowedOrigins        []string
	BrowserWritable       []string
	// IdentityAudience is the aud of signInTokens, checked at SignIn and
	// made by the demo's signer (empty: identity.DefaultAudience).
	IdentityAudience string
	// BlockedUserIDs link nobody, besides the placeholders that never do
	// (ingest.Config.BlockedUserIDs).
	BlockedUserIDs []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (live.Config.TrustedProxies).
	TrustedProxies []netip.Prefix
	// RateLimit is the events per second per client IP; 0 is no limit
	// (live.Config.RateLimit). The edge leaves it 0: no state outlives a
	// request there.
	RateLimit int
	// MaxSocketsPerIP caps one client address's open WebSockets
	// (live.Config.MaxSocketsPerIP); 0 is no cap.
	MaxSocketsPerIP int
	// MergeUndo is how long after it finished an identity merge can be
	// undone (0: store.DefaultMergeUndo); the maintenance job that
	// deletes what expired merges moved is given the same.
	MergeUndo time.Duration
	// UserAgents classifies visits' browsers, devices and bots, and GeoIP
	// locates client addresses; nil leaves those fields empty (the edge
	// worker cannot afford the parser's tables).
	UserAgents enrich.AgentParser
	GeoIP      enrich.Geo
	// Webhooks is the webhook outbox and its delivery worker (package
	// webhook); nil serves no webhooks. The native daemon passes it; the
	// edge build has no process to run the worker in.
	Webhooks Webhooks
	// Edge is the Cloudflare Workers build: no background goroutines, no
	// transactions; every request stands alone. WebSockets there only with
	// Sockets.
	Edge bool
	// Sockets, on the edge, reaches the browsers whose WebSockets Durable
	// Objects hold (collector/edge): visitor-data changes, erasures and
	// notifications are announced to it as well as to this server's hub.
	// nil: the edge answers /v1/ws with 501.
	Sockets Sockets
	// Static serves the tracker, its loader, the demo and the console;
	// nil serves none of them.
	Static http.Handler
	// Demo serves the demo shop (/demo/) and its signer
	// (POST /demo/api/login), which hands out proofs for any userId: never
	// on a production collector. Without it both are 404.
	Demo bool
	// Metrics observes ingest and connections and serves /metrics (the
	// native collector's package metrics); nil on the edge.
	Metrics Metrics
	// Peers carries pushes to the other collectors on the same PostgreSQL
	// database (live.Config.Peers); nil with one node.
	Peers live.Peers
	// EngagementPerMinute caps the offers of all engagement rules together
	// (0: no cap).
	EngagementPerMinute int
	// EngagementQueue bounds the committed batches waiting for the
	// engagement engine (0: its default); more are dropped and counted.
	EngagementQueue int
	// EngagementReload, when set, reads the rules and categories again at
	// this interval: other nodes on the same database change them too.
	EngagementReload time.Duration
	// EngagementCapacity asks a rule's capacity URL how many agents are
	// available (GET answering {"available": n}); nil makes no offer for
	// a rule that names one. The daemon passes an HTTP client behind the
	// SSRF guard: the edge links no HTTP client (the Worker's size).
	EngagementCapacity func(ctx context.Context, url string) (int, error)
	// EngagementNow is the engagement engine's clock (nil: Now): tests
	// set it to try quiet hours at a chosen instant without moving the
	// clock ingest corrects event times with.
	EngagementNow func() time.Time
	Logger        *slog.Logger
	// Now is the clock, for tests.
	Now func() time.Time
}

// Webhooks is what the server needs of package webhook: ingest and the
// visitor-data writes announce through it, inside their commits.
type Webhooks interface {
	ingest.Outbox
	store.VisitorDataHook
	collector.VisitorDataListener
	Service() collector.WebhookService
	Start()
	Stop()
}

// Sockets is the edge's announcer to the hubs that hold WebSockets, and
// what it asks them for /v1/live.
type Sockets interface {
	collector.VisitorDataListener
	collector.Notifier
	SubjectErased(s collector.Subject)
	// OpenVisits names the visits whose WebSockets they hold.
	OpenVisits(ctx context.Context) ([]string, error)
}

// Metrics is what the server needs of a metrics exporter.
type Metrics interface {
	ingest.Observer
	live.Observer
	http.Handler
}

// Server is a running collector.
type Server struct {
	cfg      Config
	ingester *ingest.Ingester
	hub      *live.Hub
	feed     *feed.Hub // nil on the edge: no process outlives a request
	api      *api.Handler
	handler  http.Handler
	engage   *engagement // nil on the edge
}

// New builds the collector on an already migrated store.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("server: Store is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	signer, err := identity.NewSigner(cfg.RecognitionKey, 0, cfg.Now)
	if err != nil {
		return nil, err
	}
	handoffs, err := identity.NewHandoffs(cfg.RecognitionKey, 0, cfg.Now, nil)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg}
	visitorData := store.NewVisitorData(cfg.Store)
	var onCommit func([]store.EventRow)
	var categories func() *engage.Categorizer
	if !cfg.Edge {
		s.feed = feed.New(feed.Options{})
		visitorData.AddListener(s.feed)
		categories = s.attachEngagement(cfg, visitorData)
		onCommit = func(rows []store.EventRow) {
			s.publishEvents(rows)
			s.engageCommitted(rows)
		}
	}
	var outbox ingest.Outbox
	if cfg.Webhooks != nil {
		visitorData.SetHook(cfg.Webhooks)
		visitorData.AddListener(cfg.Webhooks)
		outbox = cfg.Webhooks
	}
	s.ingester, err = ingest.New(ingest.Config{
		Store:                 cfg.Store,
		Signer:                signer,
		VisitorData:           visitorData,
		IdentitySecret:        cfg.IdentitySecret,
		RequireVerifiedSignIn: cfg.RequireVerifiedSignIn,
		IdentityAudience:      cfg.IdentityAudience,
		BlockedUserIDs:        cfg.BlockedUserIDs,
		VisitTimeout:          cfg.VisitTimeout,
		Direct:                cfg.Edge,
		OnCommit:              onCommit,
		Enricher:              enrich.New(cfg.UserAgents, cfg.GeoIP),
		Categories:            categories,
		Outbox:                outbox,
		Observer:              observer(cfg.Metrics),
		Logger:                cfg.Logger,
		Now:                   cfg.Now,
	})
	if err != nil {
		return nil, err
	}
	s.hub = live.New(live.Config{
		Ingester:        s.ingester,
		VisitorData:     visitorData,
		BrowserWritable: cfg.BrowserWritable,
		AllowedOrigins:  cfg.AllowedOrigins,
		TrustedProxies:  cfg.TrustedProxies,
		RateLimit:       cfg.RateLimit,
		MaxSocketsPerIP: cfg.MaxSocketsPerIP,
		Logger:          cfg.Logger,
		Observer:        cfg.Metrics,
		Signer:          signer,
		Handoffs:        handoffs,
		Links:           cfg.Store,
		Now:             cfg.Now,
		Peers:           cfg.Peers,
	})
	visitorData.AddListener(s.hub)
	if cfg.Sockets != nil {
		visitorData.AddListener(cfg.Sockets)
	}
	s.api = api.New(api.Config{
		History:     erasing{cfg.Store, s.ingester, s.hub, cfg.Sockets},
		Tokens:      cfg.Store,
		VisitorData: visitorData,
		Metadata:    store.NewMetadata(cfg.Store),
		Stats:       cfg.Store,
		Connections: connections(cfg, s.hub),
		Notifier:    notifier(cfg, s.hub),
		Merges:      merging{store.NewMerger(cfg.Store, visitorData).WithUndoLimit(cfg.MergeUndo), s.ingester, s.hub},
		Erasures:    cfg.Store,
		Logger:      cfg.Logger,
		Now:         cfg.Now,
	})
	if s.feed != nil {
		s.api.HandleStream(s.feed, api.StreamOptions{})
	}
	s.api.HandleExport(cfg.Store, api.ExportOptions{})
	s.api.HandleSubjectExport(cfg.Store, api.ExportOptions{})
	s.api.HandleOpenAPI()
	if err := s.startEngagement(ctx); err != nil {
		return nil, err
	}
	if cfg.Webhooks != nil {
		s.api.HandleWebhooks(cfg.Webhooks.Service())
		cfg.Webhooks.Start()
	}
	s.handler = s.routes()
	return s, nil
}

// notifier is the hub, except on the edge, whose pages' WebSockets are
// reached through Sockets, if at all.
func notifier(cfg Config, hub *live.Hub) collector.Notifier {
	if cfg.Edge {
		if cfg.Sockets == nil {
			return nil
		}
		return cfg.Sockets
	}
	return hub
}

// connections is the hub, except on the edge with Sockets: there the
// hub of a request's instance holds no WebSocket, the Durable Objects do.
func connections(cfg Config, hub *live.Hub) api.Connections {
	if cfg.Edge && cfg.Sockets != nil {
		return cfg.Sockets
	}
	return hub
}

// observer avoids a typed nil in the ingest config.
func observer(m Metrics) ingest.Observer {
	if m == nil {
		return nil
	}
	return m
}

// publishEvents hands committed events to the change feed. It runs on the
// ingest writer, so it builds nothing unless someone follows events.
func (s *Server) publishEvents(rows []store.EventRow) {
	if !s.feed.WantsEvents() {
		return
	}
	evs := make([]*collector.Event, len(rows))
	for i := range rows {
		evs[i] = rows[i].Event()
	}
	s.feed.PublishEvents(evs)
}

// erasing tells the ingester to forget cached visits after an erasure,
// which deletes rows behind the writer's back, and the browsers still
// connected as the erased subject that its visitor data is gone.
type erasing struct {
	collector.HistoryService
	in      *ingest.Ingester
	hub     *live.Hub
	sockets Sockets // nil but on the edge
}

func (e erasing) DeleteIdentity(ctx context.Context, identityID string, opt collector.EraseOptions) error {
	err := e.HistoryService.DeleteIdentity(ctx, identityID, opt)
	return e.after(ctx, err, collector.Subject{Kind: collector.SubjectIdentity, ID: identityID})
}

func (e erasing) DeleteVisitor(ctx context.Context, visitorID string, opt collector.EraseOptions) error {
	err := e.HistoryService.DeleteVisitor(ctx, visitorID, opt)
	return e.after(ctx, err, collector.Subject{Kind: collector.SubjectVisitor, ID: visitorID})
}

func (e erasing) after(ctx context.Context, err error, s collector.Subject) error {
	if ierr := e.in.InvalidateCache(ctx); err == nil {
		err = ierr
	}
	if err == nil {
		e.hub.SubjectErased(s)
		if e.sockets != nil {
			e.sockets.SubjectErased(s)
		}
	}
	return err
}

// APIRoutes returns the patterns of the REST API's routes (the OpenAPI
// test checks that its document has each).
func (s *Server) APIRoutes() []string { return s.api.Routes() }

// Hub returns the browsers' hub (the edge's Durable Object opens its
// WebSocket sessions on it).
func (s *Server) Hub() *live.Hub { return s.hub }

// Handler returns the collector's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Ingester returns the ingest service (the load generator's raw ceiling
// and tests use it).
func (s *Server) Ingester() *ingest.Ingester { return s.ingester }

// CloseSockets closes WebSockets with 1001 so that trackers reconnect
// elsewhere, refuses new ones, and ends the change-feed streams.
func (s *Server) CloseSockets(ctx context.Context) {
	if s.feed != nil {
		s.feed.Close()
	}
	s.hub.Shutdown(ctx)
}

// Shutdown closes the sockets, then commits everything received. Call it
// after the HTTP server stopped accepting and its requests finished.
func (s *Server) Shutdown(ctx context.Context) error {
	s.CloseSockets(ctx)
	s.stopEngagement()
	err := s.ingester.Close(ctx)
	if s.cfg.Webhooks != nil {
		// Attempts in flight end unsettled; the next start tries them
		// again.
		s.cfg.Webhooks.Stop()
	}
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	if s.cfg.Edge && s.cfg.Sockets == nil {
		mux.HandleFunc("GET /v1/ws", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotImplemented, "websocket_unavailable",
				"WebSockets are not available on the edge build; configure the tracker with transport: 'http'")
		})
	}
	if s.cfg.Edge {
		mux.HandleFunc("GET /v1/stream", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotImplemented, "stream_unavailable",
				"the change feed needs a long-lived process, which the edge build does not have; poll the REST API")
		})
		webhooksUnavailable := func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotImplemented, "webhooks_unavailable",
				"webhooks need the native collector's delivery worker, which the edge build does not have; use the export or poll the REST API")
		}
		mux.HandleFunc("/v1/webhooks", webhooksUnavailable)
		mux.HandleFunc("/v1/webhooks/", webhooksUnavailable)
	}
	switch {
	case !s.cfg.Edge:
		mux.HandleFunc("GET /v1/ws", s.hub.ServeSocket)
	case s.cfg.Sockets != nil:
		// The Worker hands upgrades to a Durable Object before they reach
		// this: what does arrive is a plain GET, answered as natively.
		mux.HandleFunc("GET /v1/ws", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusUpgradeRequired, "upgrade_required",
				"GET /v1/ws is a WebSocket upgrade with the subprotocol visitrack.v1")
		})
	}
	mux.HandleFunc("/v1/collect", s.hub.ServeCollect)
	mux.HandleFunc("/v1/cookies", s.hub.ServeCookies)
	mux.HandleFunc("/v1/handoff", s.hub.ServeHandoff)
	mux.Handle("/v1/", s.api)
	mux.HandleFunc("GET /healthz", s.healthz)
	if s.cfg.Metrics != nil {
		// Behind a token (metrics:read): the figures tell anyone the
		// site's traffic, and the collector faces the internet.
		s.api.HandleMetrics(s.cfg.Metrics)
		mux.Handle("GET /metrics", s.api)
	} else {
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotImplemented, "metrics_unavailable", "this build exports no metrics")
		})
	}
	if s.cfg.Demo {
		mux.HandleFunc("POST /demo/api/login", s.demoLogin)
	} else {
		mux.HandleFunc("/demo/", func(w http.ResponseWriter, r *http.Request) {
			writeProblem(w, http.StatusNotFound, "not_found", "the demo runs only with collector serve --demo")
		})
	}
	if s.cfg.Static != nil {
		mux.Handle("/", s.cfg.Static)
	}
	return mux
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.DB().PingContext(ctx); err != nil {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "database unreachable")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"status":"ok"}` + "\n"))
}

// demoLogin plays the demo shop's backend: it makes the proofs (userHash
// and a signInToken) that a real site's backend passes with SignIn. It
// proves nothing about the user (the demo has no passwords), which is why
// it exists only with --demo; a real site makes proofs only after its own
// login succeeded.
func (s *Server) demoLogin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		UserID string `json:"userId"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&in); err != nil || in.UserID == "" || len(in.UserID) > 256 {
		writeProblem(w, http.StatusBadRequest, "invalid", `send {"userId":"…"}`)
		return
	}
	out := struct {
		UserID      string `json:"userId"`
		UserHash    string `json:"userHash,omitempty"`
		SignInToken string `json:"signInToken,omitempty"`
	}{UserID: in.UserID}
	if s.cfg.IdentitySecret != "" {
		out.UserHash = identity.UserHash(s.cfg.IdentitySecret, in.UserID)
		tok, err := identity.SignInToken(s.cfg.IdentitySecret, s.cfg.IdentityAudience, in.UserID, s.cfg.Now(), 5*time.Minute)
		if err != nil {
			writeProblem(w, http.StatusInternalServerError, "internal", "could not sign: "+err.Error())
			return
		}
		out.SignInToken = tok
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

// writeProblem answers the server's own routes with an RFC 9457 problem,
// as the API does (collector/problem).
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}
