package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// Identity merges (docs/identity.md#merging-two-identities), for operators: scope admin, since a
// merge rewrites whose history is whose.

func (h *Handler) mergeRoutes() {
	if h.cfg.Merges == nil {
		return
	}
	h.Handle("POST /v1/identities/{identityId}/merge", collector.ScopeAdmin, h.mergeIdentity)
	h.Handle("GET /v1/identities/{identityId}/merges", collector.ScopeAdmin, h.listMerges)
	h.Handle("POST /v1/merges/{mergeId}/undo", collector.ScopeAdmin, h.undoMerge)
}

// POST /v1/identities/{identityId}/merge?dryRun=true {"from":"<identityId>"}
// → 200 with the merge and the counts it moved (or would move).
func (h *Handler) mergeIdentity(w http.ResponseWriter, r *http.Request) error {
	into, err := pathID(r, "identityId")
	if err != nil {
		return err
	}
	opt, err := mergeOptions(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, 4096, "application/json")
	if err != nil {
		return err
	}
	var in struct {
		From *string `json:"from"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil || dec.More() {
		return collector.Errorf(collector.EINVALID, `send {"from":"<identityId>"}, the identity to merge into this one`)
	}
	if in.From == nil {
		return collector.Errorf(collector.EINVALID, "from is required: the identity to merge into this one")
	}
	from, err := idParam("from", *in.From)
	if err != nil {
		return err
	}
	rec, err := h.cfg.Merges.MergeIdentities(r.Context(), into, from, opt)
	if err != nil {
		return err
	}
	if !opt.DryRun {
		h.log.InfoContext(r.Context(), "api: merged identity", "into", into, "from", from,
			"mergeId", rec.MergeID, "tokenId", opt.TokenID)
	}
	return writeJSON(w, http.StatusOK, rec)
}

// GET /v1/identities/{identityId}/merges: the merges into it, newest
// first.
func (h *Handler) listMerges(w http.ResponseWriter, r *http.Request) error {
	id, opt, err := subList(r, "identityId")
	if err != nil {
		return err
	}
	recs, next, err := h.cfg.Merges.FindMerges(r.Context(), id, opt)
	if err != nil {
		return err
	}
	return writeList(w, recs, next)
}

// POST /v1/merges/{mergeId}/undo?dryRun=true (no body) → 200 with the
// merge, undone (or as a dry run: checked, nothing written); 409 names
// what prevents it.
func (h *Handler) undoMerge(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "mergeId")
	if err != nil {
		return err
	}
	opt, err := mergeOptions(r)
	if err != nil {
		return err
	}
	rec, err := h.cfg.Merges.UndoMerge(r.Context(), id, opt)
	if err != nil {
		return err
	}
	if !opt.DryRun {
		h.log.InfoContext(r.Context(), "api: undid merge", "mergeId", id, "into", rec.IdentityID,
			"from", rec.FromIdentityID, "tokenId", opt.TokenID)
	}
	return writeJSON(w, http.StatusOK, rec)
}

// mergeOptions reads dryRun, the one parameter of a merge and its undo,
// and the token that asks.
func mergeOptions(r *http.Request) (collector.MergeOptions, error) {
	opt := collector.MergeOptions{TokenID: TokenFrom(r.Context()).TokenID}
	q, err := query(r, "dryRun")
	if err != nil {
		return opt, err
	}
	switch q.Get("dryRun") {
	case "", "false":
	case "true":
		opt.DryRun = true
	default:
		return opt, collector.Errorf(collector.EINVALID, "dryRun must be true or false, not %q", q.Get("dryRun"))
	}
	return opt, nil
}
