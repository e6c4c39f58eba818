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
	buf := &bufferedResponse{header: http.Header{}, status: http.StatusOK}
	h.next.ServeHTTP(buf, r.WithContext(ctx))
	if buf.status >= 200 && buf.status < 300 {
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
	w.WriteHeader(buf.status)
	w.Write(buf.body.Bytes())
}

// bufferedResponse keeps an answer until the writes behind it commit.
type bufferedResponse struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(status int) {
	if !b.wroteHeader {
		b.status, b.wroteHeader = status, true
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	b.wroteHeader = true
	return b.body.Write(p)
}
