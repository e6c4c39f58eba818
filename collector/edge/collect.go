package edge

import (
	"bytes"
	"net/http"
	"strings"

	"github.com/visitrack/visitrack/collector/edge/d1batch"
)

// collect serves POST /v1/collect with its writes held in a d1batch.Unit
// and sent to D1 in one batch() (one round trip, one transaction) once the
// collector has answered. The answer waits in a buffer meanwhile: the ack
// must follow the commit (SPEC section 3). An answer that is not a success
// commits nothing of what was held, and a failed commit answers 503, so
// that the browser sends the batch again.
func (h *handler) collect(w http.ResponseWriter, r *http.Request) {
	ctx, unit := d1batch.Begin(r.Context(), h.batch)
	buf := NewBufferedResponse(http.Header{})
	h.next.ServeHTTP(buf, r.WithContext(ctx))
	if buf.Status >= 200 && buf.Status < 300 {
		if err := unit.Commit(r.Context()); err != nil {
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
