package api

import (
	_ "embed"
	"net/http"
	"slices"

	"github.com/visitrack/visitrack/collector/problem"
)

// GET /v1/openapi.json (no auth): the OpenAPI 3.1 document of the REST API,
// the browser's /v1/collect and the operations endpoints. It is written
// by hand beside this file; the server package's test sends real requests
// to a collector for every operation in it and validates each answer
// against it with kin-openapi, and fails for a route of this mux that the
// document does not describe.

//go:embed openapi.json
var openAPIDocument []byte

// OpenAPIDocument returns the embedded document (do not modify it).
func OpenAPIDocument() []byte { return openAPIDocument }

// HandleOpenAPI registers GET /v1/openapi.json, without authentication:
// the document describes the API; it holds no data.
func (h *Handler) HandleOpenAPI() {
	const pattern = "GET /v1/openapi.json"
	h.routes = append(h.routes, pattern)
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if _, err := query(r); err != nil {
			problem.WriteError(w, r, h.log, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		w.Write(openAPIDocument)
	})
}

// Routes returns the patterns registered on the API ("GET /v1/visits",
// …), in the order they were registered.
func (h *Handler) Routes() []string { return slices.Clone(h.routes) }
