package api

import (
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// The erasure audit (docs/data-subject.md), for operators: scope admin.
// Each DELETE of an identity or visitor leaves a record without personal
// data, kept after the data is gone.

func (h *Handler) erasureRoutes() {
	if h.cfg.Erasures == nil {
		return
	}
	h.Handle("GET /v1/erasures", collector.ScopeAdmin, h.listErasures)
}

// GET /v1/erasures?limit=&cursor=: the records, newest first.
func (h *Handler) listErasures(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, paramLimit, paramCursor)
	if err != nil {
		return err
	}
	opt, err := listOptions(q)
	if err != nil {
		return err
	}
	recs, next, err := h.cfg.Erasures.FindErasures(r.Context(), opt)
	if err != nil {
		return err
	}
	return writeList(w, recs, next)
}
