// Package api is the collector's REST API for operators and backend
// systems (docs/api.md) as one http.Handler: the History endpoints here,
// the visitor-data and metadata endpoints in visitordata*.go and
// metadata*.go.
//
// # Adding endpoints
//
// Every endpoint is a HandlerFunc registered with Handle:
//
//	h.Handle("GET /v1/visits/{visitId}", collector.ScopeHistoryRead, h.getVisit)
//
// A HandlerFunc writes its success response itself (writeJSON, writeList,
// or w.WriteHeader(http.StatusNoContent)) and returns an error for
// everything else. Return a *collector.Error (collector.Errorf) with a code:
// Handle turns it into an RFC 9457 problem with the status that WriteError
// maps the code to, in one place. Any other error is a 500 whose detail is
// logged, not shown.
//
// Handle authenticates the bearer token before fn runs (401 without a
// live token) and checks the scope it is given (403 without it). Pass ""
// when the scope depends on the request, such as
// visitordata:write:<namespace>, and call RequireScope in fn. The token is
// TokenFrom(r.Context()).
//
// Helpers for handlers: writeJSON, writeList (the {"items","nextCursor"}
// shape), query (refuses unknown parameters), listOptions (limit and
// cursor), timeParam (RFC 3339), idParam (a ULID from the path or query)
// and readBody (a size-limited body of an allowed media type).
//
// The visitor-data and metadata files each define one method on *Handler,
// visitorDataRoutes() and metadataRoutes(), that registers their endpoints
// with Handle; New calls each when it exists, so that this package builds
// with or without them. Their services are Config.VisitorData and
// Config.Metadata.
//
// Mount the Handler under "/v1/": it answers every other path below it
// with a problem (404, or 405 for a known path with the wrong method).
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/problem"
)

// Connections names the visits with an open WebSocket, for /v1/live: the
// hub's, or on the edge the Durable Objects' (asked over the network,
// hence the context and the error).
type Connections interface {
	OpenVisits(ctx context.Context) ([]string, error)
}

// Config is what the API serves.
type Config struct {
	History     collector.HistoryService
	Tokens      collector.TokenService
	VisitorData collector.VisitorDataService
	Metadata    collector.MetadataService
	// Stats answers the stats and live endpoints; nil serves none.
	Stats collector.StatsService
	// Connections names the visits with an open WebSocket, for /v1/live.
	Connections Connections
	// Now is the clock of the stats' default period; nil is time.Now.
	Now func() time.Time
	// Notifier reaches the open pages of a visit; nil (the edge) answers
	// notifications with 501.
	Notifier collector.Notifier
	// Merges merges identities; nil serves no merge endpoints.
	Merges collector.MergeService
	// Erasures lists the erasure records; nil serves no /v1/erasures.
	Erasures collector.ErasureService
	// NewID makes the ids of notifications; nil uses ULIDs of the clock.
	NewID func() string
	// Logger receives internal errors and erasures; nil discards.
	Logger *slog.Logger
}

// Handler is the REST API.
type Handler struct {
	cfg Config
	log *slog.Logger
	mux *http.ServeMux
	// patterns lists every pattern given to Handle, so that a test can
	// check the scope of each.
	patterns []string
	// routes are the patterns registered, for Routes.
	routes []string
}

// HandlerFunc is an endpoint. It returns the errors it does not answer
// itself; see the package documentation.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// New returns the API with all its routes.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	h.historyRoutes()
	if r, ok := any(h).(interface{ visitorDataRoutes() }); ok {
		r.visitorDataRoutes()
	}
	if r, ok := any(h).(interface{ metadataRoutes() }); ok {
		r.metadataRoutes()
	}
	if cfg.Stats != nil {
		h.statsRoutes()
	}
	h.notificationRoutes()
	h.mergeRoutes()
	h.erasureRoutes()
	return h
}

// Handle registers fn for pattern, a ServeMux pattern with a method
// ("GET /v1/visits/{visitId}"), behind bearer authentication and, unless
// scope is "", a check that the token grants scope.
func (h *Handler) Handle(pattern, scope string, fn HandlerFunc) {
	h.patterns = append(h.patterns, pattern)
	h.routes = append(h.routes, pattern)
	h.mux.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r, err := h.authenticate(r)
		if err == nil && scope != "" {
			err = RequireScope(r, scope)
		}
		if err == nil {
			err = fn(w, r)
		}
		if err != nil {
			problem.WriteError(w, r, h.log, err)
		}
	}))
}

// ServeHTTP serves the API. Requests that match no route get a problem:
// 404, or 405 with Allow when the path exists for other methods.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if _, pattern := h.mux.Handler(r); pattern != "" {
		h.mux.ServeHTTP(w, r)
		return
	}
	// Let the mux decide between 404, 405 and its redirects (an unclean
	// path), then answer 404 and 405 as problems.
	rec := &recorder{header: http.Header{}}
	h.mux.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusNotFound:
		problem.WriteError(w, r, h.log, collector.Errorf(collector.ENOTFOUND, "no such endpoint: %s", r.URL.Path))
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		problem.Write(w, http.StatusMethodNotAllowed, "method_not_allowed",
			r.Method+" is not allowed on "+r.URL.Path+"; allowed: "+rec.header.Get("Allow"))
	default:
		for k, v := range rec.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.status)
		w.Write(rec.body)
	}
}

// recorder keeps what the mux answers an unmatched request.
type recorder struct {
	header http.Header
	status int
	body   []byte
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	r.body = append(r.body, b...)
	return len(b), nil
}
