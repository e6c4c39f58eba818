package api

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/feed"
)

// GET /v1/stream: the change feed as server-sent events
// (text/event-stream), so that a backend can follow instead of polling.
//
//	event: visitorData
//	data: {"subject":"identity:01J…","identityId":"01J…","version":4,"data":{…}}
//
//	event: event
//	data: {"eventId":"01J…","visitId":"01J…","name":"Checkout",…}
//
// A token receives visitorData with visitordata:read and event with
// history:read; ?types=visitorData,event narrows that (403 when the token
// allows none of what is asked). Comment lines (": ping") keep idle
// connections open. When the feed ends a stream because the client fell
// behind or the collector is shutting down, a last "event: reset" says
// why; the client reconnects (EventSource does by itself) and reads the
// current state through the REST API, because the feed does not replay.
//
// A stream lives longer than the check of its token, so the token is
// checked again every StreamOptions.Recheck: once it is revoked (through
// the API, or by `collector token revoke`, another process that only
// writes the database and cannot tell this one), or no longer grants what
// the stream carries, the stream ends with "event: reset" and data
// "token revoked" (within 10 s: docs/security.md#api-token).

// StreamOptions tune GET /v1/stream.
type StreamOptions struct {
	// KeepAlive is the interval of ": ping" comments (default 15 s).
	KeepAlive time.Duration
	// WriteTimeout bounds each write to the client (default 10 s); it also
	// lifts the server's WriteTimeout, which would cut every stream.
	WriteTimeout time.Duration
	// Recheck is how often the stream's token is checked again (default
	// 5 s, so that a revoked token loses its streams within 10 s).
	Recheck time.Duration
}

// defaultRecheck keeps a revoked token's streams under the promised 10 s with
// room for a slow database read.
const defaultRecheck = 5 * time.Second

// HandleStream registers GET /v1/stream, fed by hub. The composer calls it
// once after New; close the hub before shutting the HTTP server down, so
// that the streams end.
func (h *Handler) HandleStream(hub *feed.Hub, opt StreamOptions) {
	if opt.KeepAlive <= 0 {
		opt.KeepAlive = 15 * time.Second
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 10 * time.Second
	}
	if opt.Recheck <= 0 {
		opt.Recheck = defaultRecheck
	}
	h.Handle("GET /v1/stream", "", func(w http.ResponseWriter, r *http.Request) error {
		return h.serveStream(w, r, hub, opt)
	})
}

func (h *Handler) serveStream(w http.ResponseWriter, r *http.Request, hub *feed.Hub, opt StreamOptions) error {
	q, err := query(r, "types")
	if err != nil {
		return err
	}
	f, err := streamFilter(r, q.Get("types"))
	if err != nil {
		return err
	}
	sub, err := hub.Subscribe(f)
	if err != nil {
		return collector.Errorf(collector.EUNAVAILABLE, "the change feed is closed: the collector is shutting down")
	}
	defer sub.Close()

	rc := http.NewResponseController(w)
	write := func(s string) bool {
		rc.SetWriteDeadline(time.Now().Add(opt.WriteTimeout))
		if _, err := w.Write([]byte(s)); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no") // proxies: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	if !write("retry: 2000\n: connected\n\n") {
		return nil
	}
	tick := time.NewTicker(opt.KeepAlive)
	defer tick.Stop()
	recheck := time.NewTicker(opt.Recheck)
	defer recheck.Stop()
	var b strings.Builder
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-tick.C:
			if !write(": ping\n\n") {
				return nil
			}
		case <-recheck.C:
			if !h.streamAllowed(r, f) {
				write("event: reset\ndata: " + jsonString("token revoked") + "\n\n")
				return nil
			}
		case m, ok := <-sub.Messages():
			if !ok {
				reason := "closed"
				if err := sub.Err(); err != nil {
					reason = err.Error()
				}
				write("event: reset\ndata: " + jsonString(reason) + "\n\n")
				return nil
			}
			b.Reset()
			b.WriteString("event: ")
			b.WriteString(m.Kind)
			b.WriteString("\ndata: ")
			b.Write(m.Data) // compact JSON: no newlines
			b.WriteString("\n\n")
			if !write(b.String()) {
				return nil
			}
		}
	}
}

// streamAllowed authenticates the stream's request again and reports
// whether its token is still live and grants every kind f carries. A
// failure to read the token (the database is busy) keeps the stream: the
// next check decides.
func (h *Handler) streamAllowed(r *http.Request, f feed.Filter) bool {
	ctx, cancel := context.WithTimeout(r.Context(), opTimeout)
	defer cancel()
	r2, err := h.authenticate(r.WithContext(ctx))
	if err != nil {
		return collector.ErrorCode(err) != collector.EUNAUTHORIZED
	}
	tok := TokenFrom(r2.Context())
	return (!f.VisitorData || tok.HasScope(collector.ScopeVisitorDataRead)) &&
		(!f.Events || tok.HasScope(collector.ScopeHistoryRead))
}

// opTimeout bounds one token check of a stream.
const opTimeout = 5 * time.Second

// streamFilter grants what the token's scopes allow of what types asks
// ("" asks for everything allowed).
func streamFilter(r *http.Request, types string) (feed.Filter, error) {
	tok := TokenFrom(r.Context())
	mayVD := tok != nil && tok.HasScope(collector.ScopeVisitorDataRead)
	mayEv := tok != nil && tok.HasScope(collector.ScopeHistoryRead)
	var f feed.Filter
	if types == "" {
		f = feed.Filter{VisitorData: mayVD, Events: mayEv}
		if !f.VisitorData && !f.Events {
			return f, collector.Errorf(collector.EFORBIDDEN, "the stream needs visitordata:read (visitor data) or history:read (events)")
		}
		return f, nil
	}
	for _, t := range strings.Split(types, ",") {
		switch strings.TrimSpace(t) {
		case feed.KindVisitorData:
			if !mayVD {
				return f, collector.Errorf(collector.EFORBIDDEN, "this token lacks the scope %s", collector.ScopeVisitorDataRead)
			}
			f.VisitorData = true
		case feed.KindEvent:
			if !mayEv {
				return f, collector.Errorf(collector.EFORBIDDEN, "this token lacks the scope %s", collector.ScopeHistoryRead)
			}
			f.Events = true
		default:
			return f, collector.Errorf(collector.EINVALID, "types takes visitorData and event, not %q", clip(t))
		}
	}
	return f, nil
}

// jsonString quotes s as a JSON string (s is one of the feed's reasons:
// plain ASCII without quotes or backslashes, but be safe).
func jsonString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", " ", "\r", " ")
	return `"` + r.Replace(s) + `"`
}
