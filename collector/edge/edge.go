// Package edge builds the collector for Cloudflare Workers: the same
// server as the native collector, on a D1 database, configured from the
// Worker's variables and secrets. The Worker entry point (./worker) opens
// D1 and calls New on every request, since every request may run in a
// fresh Go instance: nothing here lives longer than one request, and no
// key is ever generated at run time.
//
// This package is portable Go so that its tests run natively, on SQLite
// with D1's restrictions (no transactions, 100 bound parameters).
package edge

import (
	"context"
	"crypto/subtle"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/edge/d1batch"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/problem"
	"github.com/visitrack/visitrack/collector/server"
	"github.com/visitrack/visitrack/collector/settings"
	"github.com/visitrack/visitrack/collector/store"
)

// The Worker's variables (wrangler.jsonc "vars") and secrets
// (`wrangler secret put`), named as the native collector's VISITRACK_*
// environment.
const (
	EnvAdminToken     = "VISITRACK_ADMIN_TOKEN"     // secret; the REST API's admin bearer token
	EnvRecognitionKey = "VISITRACK_RECOGNITION_KEY" // secret; hex, at least 32 bytes
	EnvSweepLimit     = "VISITRACK_SWEEP_LIMIT"     // edge only: visits the Cron Trigger's sweep ends per run
	// EnvGoInstance is read by the glue (glue/worker.mjs): "isolate" (the
	// default) keeps the Go instance for the isolate's next requests,
	// "request" starts a fresh one for each.
	EnvGoInstance = "VISITRACK_GO_INSTANCE"
)

// The variables the edge shares with the native collector, read, defaulted
// and checked by collector/settings as the native collector reads them.
const (
	EnvIdentitySecret        = settings.EnvIdentitySecret // secret; optional
	EnvAllowedOrigins        = settings.EnvAllowedOrigins
	EnvVisitTimeout          = settings.EnvVisitTimeout
	EnvRequireVerifiedSignIn = settings.EnvRequireVerifiedSignIn
	EnvIdentityAudience      = settings.EnvIdentityAudience // the aud of signInTokens; default "visitrack"
	EnvBrowserWritable       = settings.EnvBrowserWritable
	EnvBlockedUserIDs        = settings.EnvBlockedUserIDs
)

// The visit-timeout sweep (Sweep) ends at most DefaultSweepLimit visits a
// run unless EnvSweepLimit says otherwise. Each visit it ends costs five D1
// queries and the sweep three more (one, and two that trim the stats
// rollups, sweep_rollups.go): 9 keeps a run within the 50 queries a
// Worker invocation may make on the Free plan (1,000 on the Paid plan,
// where up to 190 fit). maxSweepLimit is the native sweep's own bound.
const (
	DefaultSweepLimit = 9
	maxSweepLimit     = ingest.SweepLimit
)

// D1's limit of bound parameters per statement.
const d1MaxParams = 100

// Settings are the collector's settings on the edge: those it shares
// with the native collector (read by collector/settings), and its own.
type Settings struct {
	settings.Shared
	AdminToken     string
	RecognitionKey []byte
	SweepLimit     int
}

// LoadSettings reads the settings with getenv. The recognition key is
// required: it must be the same in every instance, or tokens issued by one
// would be refused by the next.
func LoadSettings(getenv func(string) string) (*Settings, error) {
	s := &Settings{
		AdminToken: strings.TrimSpace(getenv(EnvAdminToken)),
		SweepLimit: DefaultSweepLimit,
	}
	key := strings.TrimSpace(getenv(EnvRecognitionKey))
	if key == "" {
		return nil, fmt.Errorf("%s is not set: run `openssl rand -hex 32 | wrangler secret put %s`", EnvRecognitionKey, EnvRecognitionKey)
	}
	var err error
	if s.RecognitionKey, err = hex.DecodeString(key); err != nil || len(s.RecognitionKey) < 32 {
		return nil, fmt.Errorf("%s must be at least 32 bytes in hex (64 hex digits), e.g. from `openssl rand -hex 32`", EnvRecognitionKey)
	}
	if s.Shared, err = settings.FromEnv(getenv); err != nil {
		return nil, err
	}
	if v := strings.TrimSpace(getenv(EnvSweepLimit)); v != "" {
		if s.SweepLimit, err = strconv.Atoi(v); err != nil || s.SweepLimit < 1 || s.SweepLimit > maxSweepLimit {
			return nil, fmt.Errorf("%s %q: want a number of visits from 1 to %d", EnvSweepLimit, v, maxSweepLimit)
		}
	}
	if err := checkShards(getenv(EnvWSShards)); err != nil {
		return nil, err
	}
	switch v := getenv(EnvGoInstance); v {
	case "", "isolate", "request":
	default:
		return nil, fmt.Errorf("%s %q: want isolate or request", EnvGoInstance, v)
	}
	if s.AdminToken != "" && len(s.AdminToken) < store.MinSecretLen {
		return nil, fmt.Errorf("%s must be at least %d characters", EnvAdminToken, store.MinSecretLen)
	}
	return s, nil
}

// OpenStore wraps a D1 database (already migrated with `wrangler d1
// migrations apply`) in a store that keeps to D1's rules.
func OpenStore(db *sql.DB) *store.Store {
	return store.New(db, store.WithoutTransactions(), store.WithMaxParams(d1MaxParams))
}

// Option configures New.
type Option func(*handler)

// WithBatcher sends the writes of each POST /v1/collect to D1 in one
// batch (see collect.go). db must then be opened on a
// d1batch.NewConnector, which holds the writes back until then.
func WithBatcher(b d1batch.Batcher) Option { return func(h *handler) { h.batch = b } }

// New returns the collector's handler on db with the settings from
// getenv.
func New(ctx context.Context, db *sql.DB, getenv func(string) string, logger *slog.Logger, opts ...Option) (http.Handler, error) {
	set, err := LoadSettings(getenv)
	if err != nil {
		return nil, err
	}
	st := OpenStore(db)
	h := &handler{store: st, admin: set.AdminToken, log: logger}
	for _, o := range opts {
		o(h)
	}
	var sockets server.Sockets // ws.go
	if h.announce != nil {
		sockets = &relay{announce: h.announce, visits: h.socketVisits, log: logger}
	}
	var rate, maxSockets int // only where sockets are held
	if h.sessions != nil {
		rate, maxSockets = set.RateLimit, set.MaxSocketsPerIP
	}
	srv, err := server.New(ctx, server.Config{
		Store:                 st,
		RecognitionKey:        set.RecognitionKey,
		IdentitySecret:        set.IdentitySecret,
		IdentityAudience:      set.IdentityAudience,
		RequireVerifiedSignIn: set.RequireVerifiedSignIn,
		VisitTimeout:          set.VisitTimeout,
		AllowedOrigins:        set.AllowedOrigins,
		BrowserWritable:       set.BrowserWritable,
		BlockedUserIDs:        set.BlockedUserIDs,
		// No per-IP limit but for the sockets of a Durable Object:
		// nothing else lives between requests here. No TrustedProxies
		// either: handler sets the client's address from CF-Connecting-IP.
		RateLimit:       rate,
		MaxSocketsPerIP: maxSockets,
		MergeUndo:       set.MergeUndo,
		Edge:            true,
		Sockets:         sockets,
		Logger:          logger,
	})
	if err != nil {
		return nil, err
	}
	h.next = srv.Handler()
	if h.sessions != nil {
		*h.sessions = newSockets(srv.Hub(), logger)
	}
	return h, nil
}

// Sweep runs one round of the jobs the native collector runs on a timer
// (package maintain): the visit-timeout sweep, which ends the visits idle
// for the visit timeout at their last activity plus the timeout, with a
// VisitEnded event, oldest first and at most the sweep limit of them; then
// rollup trimming, SweepTrimBatch rows a table; then the merge undo limit
// (what merges moved, deleted once VISITRACK_MERGE_UNDO_DAYS is up). It
// returns how many visits it ended. The Worker runs it on its Cron Trigger
// (wrangler.jsonc "triggers"), in an instance of its own.
func Sweep(ctx context.Context, db *sql.DB, getenv func(string) string, logger *slog.Logger) (int, error) {
	set, err := LoadSettings(getenv)
	if err != nil {
		return 0, err
	}
	signer, err := identity.NewSigner(set.RecognitionKey, 0, nil)
	if err != nil {
		return 0, err
	}
	st := OpenStore(db)
	in, err := ingest.New(ingest.Config{
		Store: st, Signer: signer, VisitTimeout: set.VisitTimeout,
		Direct: true, Logger: logger,
	})
	if err != nil {
		return 0, err
	}
	trim, err := maintain.Rollups(maintain.RollupConfig{Store: st, Batch: SweepTrimBatch})
	if err != nil {
		return 0, err
	}
	undo, err := maintain.MergeUndo(maintain.MergeUndoConfig{Store: st, Limit: set.MergeUndo})
	if err != nil {
		return 0, err
	}
	r, err := maintain.Start(ctx, maintain.Config{Writer: in, Store: st, Logger: logger, Once: true},
		maintain.Sweep(maintain.SweepConfig{VisitTimeout: set.VisitTimeout, Limit: set.SweepLimit}), trim, undo)
	if r == nil {
		return 0, err
	}
	return r.Did()[0], err
}

// handler adapts the server to the Workers platform.
type handler struct {
	next  http.Handler
	store *store.Store
	admin string
	log   *slog.Logger
	batch d1batch.Batcher // nil: each write is a round trip of its own
	// announce reaches the Durable Objects that hold WebSockets, and
	// sessions receives this instance's Sockets (ws.go).
	announce Announcer
	// socketVisits asks them for the visits of their sockets.
	socketVisits SocketVisits
	sessions     **Sockets
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// A panic would end the Go instance, and with it every request the
	// isolate is serving on it (glue/worker.mjs keeps one instance per
	// isolate): answer this one with a 500 instead.
	defer func() {
		if v := recover(); v != nil {
			h.log.Error("edge: panic", "method", r.Method, "path", r.URL.Path, "panic", v)
			writeProblem(w, http.StatusInternalServerError, "internal", "the request failed; try again")
		}
	}()
	setClientAddr(r)
	// The admin token lives in a secret, not in D1: make sure D1 knows it
	// when it is used, rather than on every request (a write each time).
	// EnsureToken keeps a revoked token revoked.
	if h.admin != "" {
		if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok &&
			subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(h.admin)) == 1 {
			if _, err := h.store.EnsureToken(r.Context(), h.admin, []string{collector.ScopeAdmin}); err != nil {
				h.log.Error("edge: ensure admin token", "err", err)
				Unavailable(err).ServeHTTP(w, r)
				return
			}
		}
	}
	if h.batch != nil && r.Method == http.MethodPost && r.URL.Path == "/v1/collect" {
		h.collect(w, r)
		return
	}
	h.next.ServeHTTP(w, r)
}

// setClientAddr gives r the visitor's address. Cloudflare sets
// CF-Connecting-IP to it and overwrites any the client sent; the Go
// request has no peer address.
func setClientAddr(r *http.Request) {
	if ip := r.Header.Get("CF-Connecting-IP"); net.ParseIP(ip) != nil {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
	}
}

// Unavailable answers every request with a 503 problem that says what is
// wrong, for a Worker that cannot start (a missing binding or secret).
func Unavailable(err error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, http.StatusServiceUnavailable, "unavailable", "the edge collector is misconfigured: "+err.Error())
	})
}

// writeProblem answers with an RFC 9457 problem, as the native collector
// does (collector/problem).
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}
