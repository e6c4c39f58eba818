// Package problem answers HTTP requests with RFC 9457 problem details
// (application/problem+json), and is the one place where a collector
// error code becomes an HTTP status (docs/architecture.md#one-error-map).
// The REST API, the browser endpoints and the edge all answer through it,
// so that a client sees one shape of error everywhere.
package problem

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// Details is an RFC 9457 problem details object. Code is the collector
// error code (or a protocol code), for programs; Detail is for people.
type Details struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// New returns the problem of status with code and detail.
func New(status int, code, detail string) Details {
	return Details{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code}
}

// Status returns the HTTP status of a collector error code; 500 for an
// unknown code.
func Status(code string) int {
	switch code {
	case collector.EINVALID:
		return http.StatusBadRequest
	case collector.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case collector.EFORBIDDEN:
		return http.StatusForbidden
	case collector.ENOTFOUND:
		return http.StatusNotFound
	case collector.ECONFLICT:
		return http.StatusConflict
	case collector.EGONE:
		return http.StatusGone
	case collector.EPRECONDITIONFAILED:
		return http.StatusPreconditionFailed
	case collector.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case collector.EUNSUPPORTEDMEDIA:
		return http.StatusUnsupportedMediaType
	case collector.EUNPROCESSABLE:
		return http.StatusUnprocessableEntity
	case collector.EPRECONDITIONREQUIRED:
		return http.StatusPreconditionRequired
	case collector.EUNAVAILABLE, collector.ESTORAGEFULL:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// WriteError writes err as a problem. A *collector.Error in err's chain
// gives the status and the detail; any other error is logged with the
// request's method and path and answered 500 "internal error", so that no
// internal detail reaches the client. log may be nil.
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
	Write(w, status, code, collector.ErrorMessage(err))
}

// Write writes a problem with a protocol or API code.
func Write(w http.ResponseWriter, status int, code, detail string) {
	// Details are strings and an int: encoding cannot fail (invalid UTF-8
	// in detail becomes U+FFFD), but it is done before writing all the
	// same (docs/architecture.md#encode-then-write).
	b, _ := json.Marshal(New(status, code, detail))
	h := w.Header()
	h.Set("Content-Type", "application/problem+json")
	h.Set("Cache-Control", "no-store")
	h.Del("ETag")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
