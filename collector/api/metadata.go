package api

import (
	"net/http"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The internal-metadata endpoints (docs/visitor-data.md#internal-metadata). Nothing of it ever
// goes to a browser; the answers here are for operators and backends.
//
//	GET   /v1/visits/{visitId}/metadata  metadata:read
//	PUT   /v1/visits/{visitId}/metadata  metadata:write; application/json; If-Match optional
//	PATCH /v1/visits/{visitId}/metadata  metadata:write; application/merge-patch+json; If-Match optional
//
// Answers are {"visitId","version","data","updatedAt"} with ETag "n".

func (h *Handler) metadataRoutes() {
	const path = "/v1/visits/{visitId}/metadata"
	h.Handle("GET "+path, collector.ScopeMetadataRead, h.getMetadata)
	h.Handle("PUT "+path, collector.ScopeMetadataWrite, h.putMetadata)
	h.Handle("PATCH "+path, collector.ScopeMetadataWrite, h.patchMetadata)
}

// GET /v1/visits/{visitId}/metadata
func (h *Handler) getMetadata(w http.ResponseWriter, r *http.Request) error {
	id, err := h.metadataRequest(r)
	if err != nil {
		return err
	}
	md, err := h.cfg.Metadata.GetVisitMetadata(r.Context(), id)
	if err != nil {
		return err
	}
	return writeMetadata(w, md)
}

// PUT (replace) and PATCH (merge patch) /v1/visits/{visitId}/metadata:
// the same request but for the body's media type and the write.
func (h *Handler) putMetadata(w http.ResponseWriter, r *http.Request) error {
	return h.writeMetadataWith(w, r, false)
}

func (h *Handler) patchMetadata(w http.ResponseWriter, r *http.Request) error {
	return h.writeMetadataWith(w, r, true)
}

func (h *Handler) writeMetadataWith(w http.ResponseWriter, r *http.Request, patch bool) error {
	id, err := h.metadataRequest(r)
	if err != nil {
		return err
	}
	media, write := mediaJSON, h.cfg.Metadata.PutVisitMetadata
	if patch {
		media, write = mediaMergePatch, h.cfg.Metadata.PatchVisitMetadata
	}
	ifMatch, err := ifMatchHeader(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, protocol.MaxVisitorDataBytes, media)
	if err != nil {
		return err
	}
	md, err := write(r.Context(), id, body, ifMatch)
	if err != nil {
		return err
	}
	return writeMetadata(w, md)
}

func (h *Handler) metadataRequest(r *http.Request) (string, error) {
	if h.cfg.Metadata == nil {
		return "", collector.Errorf(collector.EUNAVAILABLE, "internal metadata is not configured")
	}
	if _, err := query(r); err != nil {
		return "", err
	}
	return pathID(r, "visitId")
}

func writeMetadata(w http.ResponseWriter, md *collector.VisitMetadata) error {
	setETag(w, md.Version)
	return writeJSON(w, http.StatusOK, md)
}
