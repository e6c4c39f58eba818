package api

import (
	"log/slog"
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// statuses maps every collector error code to its HTTP status: the one
// place where codes become statuses.
var statuses = map[string]int{
	collector.EINVALID:              http.StatusBadRequest,
	collector.EUNAUTHORIZED:         http.StatusUnauthorized,
	collector.EFORBIDDEN:            http.StatusForbidden,
	collector.ENOTFOUND:             http.StatusNotFound,
	collector.ECONFLICT:             http.StatusConflict,
	collector.EPRECONDITIONFAILED:   http.StatusPreconditionFailed,
	collector.ETOOLARGE:             http.StatusRequestEntityTooLarge,
	collector.EUNSUPPORTEDMEDIA:     http.StatusUnsupportedMediaType,
	collector.EPRECONDITIONREQUIRED: http.StatusPreconditionRequired,
	collector.EINTERNAL:             http.StatusInternalServerError,
	collector.EUNAVAILABLE:          http.StatusServiceUnavailable,
	collector.ESTORAGEFULL:          http.StatusServiceUnavailable,
}

// Status returns the HTTP status of a collector error code; 500 for an
// unknown code.
func Status(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// Problem is an RFC 9457 problem details object. Code is the collector
// error code, for programs; Detail is for people.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// WriteError writes err as an application/problem+json response. A
// *collector.Error in err's chain gives the status and the detail; any
// other error is logged with the request's method and path and answered
// 500 "internal error", so that no internal detail reaches the client.
func WriteError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := collector.ErrorCode(err)
	status := Status(code)
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="visitrack"`) // RFC 6750
	}
	if code == collector.ESTORAGEFULL {
		w.Header().Set("Retry-After", "10")
	}
	if status == http.StatusInternalServerError && log != nil {
		log.ErrorContext(r.Context(), "api: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeProblem(w, status, code, collector.ErrorMessage(err))
}

// WriteProblem writes an RFC 9457 problem with a protocol or API code; the
// browser endpoints (live) and the server's own routes use it too.
func WriteProblem(w http.ResponseWriter, status int, code, detail string) {
	writeProblem(w, status, code, detail)
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	// A Problem is strings and an int: encoding cannot fail (invalid UTF-8
	// in detail becomes U+FFFD), but it is done before writing all the
	// same, as everywhere.
	b, _ := encodeJSON(Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code})
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("ETag")
	w.WriteHeader(status)
	w.Write(b)
}
