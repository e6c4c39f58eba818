package live

import (
	"io"
	"net/http"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// maxCookiesBody bounds the body of POST /v1/cookies and /v1/handoff.
const maxCookiesBody = 8 << 10

// browserPreamble is what every browser POST endpoint (/v1/collect,
// /v1/cookies, /v1/handoff) does before it reads a body: the Origin
// against --allowed-origins (refusal is the 403's detail), CORS with
// credentials, the preflight and the method. Pages post from other
// origins with the collector's cookies, so each of these answers must say
// exactly which origin may read it. ok is false when an answer was
// written.
func (h *Hub) browserPreamble(w http.ResponseWriter, r *http.Request, refusal string) (ok bool) {
	if !h.originAllowed(r) {
		writeProblem(w, http.StatusForbidden, "origin_not_allowed", refusal)
		return false
	}
	cors(w, r)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return false
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return false
	}
	return true
}

// browserPost does what the small browser POST endpoints share: the
// preamble, the rate limit and a bounded JSON body, which decode reads
// and returns the cookieDomain of. ok is false when an answer was
// written.
func (h *Hub) browserPost(w http.ResponseWriter, r *http.Request, decode func([]byte) (string, error)) (p firstParty, ok bool) {
	if !h.browserPreamble(w, r, "this origin may not use the collector; see --allowed-origins") {
		return p, false
	}
	if ok, _ := h.limiter.take(h.clientIP(r), 1, time.Now()); !ok {
		writeProblem(w, http.StatusTooManyRequests, "rate_limited", h.rateLimitMessage())
		return p, false
	}
	body, err := readBodyMax(r, maxCookiesBody)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "the body must be a JSON object of at most 8 KiB")
		return p, false
	}
	domain, err := decode(body)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "the body must be a JSON object: "+err.Error())
		return p, false
	}
	return h.firstParty(r, domain), true
}

// readBodyMax reads at most n bytes of the body.
func readBodyMax(r *http.Request, n int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(nil, r.Body, n))
}

// cors answers an allowed Origin (never with "*"), with credentials, so
// that the tracker may send its requests with the collector's cookies.
func cors(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Add("Vary", "Origin")
	}
}
