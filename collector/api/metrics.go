package api

import (
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// HandleMetrics registers GET /metrics (Prometheus text, served by m) for
// tokens with metrics:read. It is not public: traffic, sign-ins and
// webhook figures tell a competitor or an attacker how the site is doing
// and whether an attack works, and the collector's port faces the
// internet. Prometheus sends the token with `authorization: {credentials: …}`.
func (h *Handler) HandleMetrics(m http.Handler) {
	h.Handle("GET /metrics", collector.ScopeMetricsRead, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		m.ServeHTTP(w, r)
		return nil
	})
}
