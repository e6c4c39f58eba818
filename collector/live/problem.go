package live

import (
	"context"
	"errors"
	"net/http"

	"github.com/visitrack/visitrack/collector/problem"
	"github.com/visitrack/visitrack/shared/protocol"
)

// writeProblem answers a browser endpoint with an RFC 9457 problem, in the
// shape the REST API answers too (collector/problem).
func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	problem.Write(w, status, code, detail)
}

// internalError logs a failure the browser cannot act on and answers it
// with a 500 problem; a request the browser gave up on gets no answer.
func (h *Hub) internalError(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Error(what, "err", err)
	if errors.Is(err, context.Canceled) {
		return
	}
	writeProblem(w, http.StatusInternalServerError, protocol.CodeInternal, "internal error; try again")
}
