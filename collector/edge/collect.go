package edge

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"

	"github.com/visitrack/visitrack/collector/edge/d1batch"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// collect serves POST /v1/collect with its writes held in a d1batch.Unit
// and sent to D1 in one batch() (one round trip, one transaction) once the
// collector has answered. The answer waits in a buffer meanwhile: the ack
// must follow the commit (docs/architecture.md#ack-after-commit). An answer that is not a success
// commits nothing of what was held, and a failed commit answers 503, so
// that the browser sends the batch again.
//
// A collect on a visit this Go instance saw before decides from what it
// kept of it rather than read it (ingest.Speculate: one round trip, the
// batch, instead of two), with a guard first in the batch that fails it
// whole if the visit changed since. Then, or if that collect failed in
// any other way, the request runs once more as a first one would: reading
// the visit. Its body is kept for that (up to protocol.MaxBatchBytes, the
// most the collector reads; a larger one is refused anyway).
func (h *handler) collect(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, protocol.MaxBatchBytes+1))
	// A body that could not be read whole is the collector's to refuse.
	whole := err == nil && len(body) <= protocol.MaxBatchBytes
	var speculated bool
	ctx := r.Context()
	if whole {
		ctx = ingest.Speculate(ctx, &speculated)
	}
	buf, unit := h.collectOnce(ctx, r, io.MultiReader(bytes.NewReader(body), r.Body))
	ok := buf.Status >= 200 && buf.Status < 300
	var cerr error
	if ok {
		cerr = unit.Commit(r.Context())
	}
	if speculated && (!ok || cerr != nil) {
		buf, unit = h.collectOnce(r.Context(), r, bytes.NewReader(body))
		if ok = buf.Status >= 200 && buf.Status < 300; ok {
			cerr = unit.Commit(r.Context())
		}
	}
	if ok {
		if err := cerr; err != nil {
			h.log.Error("edge: commit /v1/collect", "err", err)
			for k, v := range buf.header {
				if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
					w.Header()[k] = v
				}
			}
			w.Header().Set("Retry-After", "1")
			writeProblem(w, http.StatusServiceUnavailable, "unavailable",
				"the events could not be stored; send them again")
			return
		}
	}
	for k, v := range buf.header {
		w.Header()[k] = v
	}
	w.WriteHeader(buf.Status)
	w.Write(buf.Body.Bytes())
}

// collectOnce serves the collect with body on ctx, its writes held in a
// new Unit, and returns the buffered answer and the Unit to commit.
func (h *handler) collectOnce(ctx context.Context, r *http.Request, body io.Reader) (*BufferedResponse, *d1batch.Unit) {
	ctx, unit := d1batch.Begin(ctx, h.batch)
	req := r.WithContext(ctx)
	req.Body = io.NopCloser(body)
	buf := NewBufferedResponse(http.Header{})
	h.next.ServeHTTP(buf, req)
	return buf, unit
}

// BufferedResponse keeps an answer's status and body (and, with its own
// header map, its headers) for the caller to send later: after the writes
// behind it commit (collect), or whole to the Worker runtime (the worker's
// main).
type BufferedResponse struct {
	header      http.Header
	Status      int
	wroteHeader bool
	Body        bytes.Buffer
}

// NewBufferedResponse buffers into header (pass the real writer's to keep
// the headers there).
func NewBufferedResponse(header http.Header) *BufferedResponse {
	return &BufferedResponse{header: header, Status: http.StatusOK}
}

func (b *BufferedResponse) Header() http.Header { return b.header }

func (b *BufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.Status, b.wroteHeader = status, true
	}
}

func (b *BufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.Body.Write(p)
}
