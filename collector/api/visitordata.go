package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The visitor-data endpoints (docs/visitor-data.md). SUBJECT is
// identities/{identityId} or visitors/{visitorId}.
//
//	GET    /v1/SUBJECT/visitor-data              visitordata:read
//	PUT    /v1/SUBJECT/visitor-data              visitordata:read, and a write scope for every namespace it changes; If-Match required
//	GET    /v1/SUBJECT/visitor-data/{namespace}  visitordata:read or visitordata:write:<namespace>
//	PUT    /v1/SUBJECT/visitor-data/{namespace}  visitordata:write:<namespace>; If-Match optional
//	PATCH  /v1/SUBJECT/visitor-data/{namespace}  visitordata:write:<namespace>; application/merge-patch+json; If-Match optional
//	DELETE /v1/SUBJECT/visitor-data/{namespace}  visitordata:write:<namespace>; If-Match optional
//
// Every answer carries the document's version as ETag: "n". Namespace
// calls answer only that namespace, so that a system that owns one
// namespace need not see the others. PUT of one namespace was not in the
// first contract's table; it is what a backend expects next to PATCH (replace my
// namespace whole).

const (
	mediaJSON       = "application/json"
	mediaMergePatch = "application/merge-patch+json"
)

func (h *Handler) visitorDataRoutes() {
	for _, subject := range []string{"/v1/identities/{identityId}", "/v1/visitors/{visitorId}"} {
		doc, ns := subject+"/visitor-data", subject+"/visitor-data/{namespace}"
		h.Handle("GET "+doc, collector.ScopeVisitorDataRead, h.getVisitorData)
		h.Handle("PUT "+doc, collector.ScopeVisitorDataRead, h.putVisitorData)
		h.Handle("GET "+ns, "", h.getNamespace)
		h.Handle("PUT "+ns, "", h.putNamespace)
		h.Handle("PATCH "+ns, "", h.patchNamespace)
		h.Handle("DELETE "+ns, "", h.deleteNamespace)
	}
}

// documentView is the answer of the whole-document calls.
type documentView struct {
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// namespaceView is the answer of the namespace calls.
type namespaceView struct {
	Version   int64           `json:"version"`
	Namespace string          `json:"namespace"`
	Data      json.RawMessage `json:"data"`
}

// GET /v1/SUBJECT/visitor-data
func (h *Handler) getVisitorData(w http.ResponseWriter, r *http.Request) error {
	s, err := h.visitorDataRequest(r)
	if err != nil {
		return err
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(r.Context(), s)
	if err != nil {
		return err
	}
	return writeDocument(w, vd)
}

// PUT /v1/SUBJECT/visitor-data
func (h *Handler) putVisitorData(w http.ResponseWriter, r *http.Request) error {
	s, err := h.visitorDataRequest(r)
	if err != nil {
		return err
	}
	tok := TokenFrom(r.Context())
	if !mayWriteSome(tok) {
		return collector.Errorf(collector.EFORBIDDEN, "this token has no visitordata:write:<namespace> scope")
	}
	ifMatch, err := ifMatchHeader(r)
	if err != nil {
		return err
	}
	if ifMatch == nil {
		return collector.Errorf(collector.EPRECONDITIONREQUIRED,
			`a whole-document PUT needs If-Match with the ETag you read (GET it first); to write one namespace, PATCH /visitor-data/{namespace}`)
	}
	body, err := readBody(w, r, protocol.MaxVisitorDataBytes, mediaJSON)
	if err != nil {
		return err
	}
	vd, err := h.cfg.VisitorData.PutVisitorData(r.Context(), s, *ifMatch, body, func(ns string) bool {
		return tok.HasScope(collector.ScopeVisitorDataWrite + ns)
	})
	if err != nil {
		return err
	}
	return writeDocument(w, vd)
}

// GET /v1/SUBJECT/visitor-data/{namespace}
func (h *Handler) getNamespace(w http.ResponseWriter, r *http.Request) error {
	s, ns, err := h.namespaceRequest(r)
	if err != nil {
		return err
	}
	if RequireScope(r, collector.ScopeVisitorDataWrite+ns) != nil {
		if err := RequireScope(r, collector.ScopeVisitorDataRead); err != nil {
			return collector.Errorf(collector.EFORBIDDEN, "this token lacks the scope %s (or %s%s)",
				collector.ScopeVisitorDataRead, collector.ScopeVisitorDataWrite, ns)
		}
	}
	vd, err := h.cfg.VisitorData.GetVisitorData(r.Context(), s)
	if err != nil {
		return err
	}
	return writeNamespace(w, http.StatusOK, vd, ns)
}

// PUT /v1/SUBJECT/visitor-data/{namespace}
func (h *Handler) putNamespace(w http.ResponseWriter, r *http.Request) error {
	s, ns, ifMatch, err := h.namespaceWrite(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, protocol.MaxVisitorDataBytes, mediaJSON)
	if err != nil {
		return err
	}
	var vd *collector.VisitorData
	if ifMatch == nil {
		vd, err = h.cfg.VisitorData.PutNamespace(r.Context(), s, ns, body)
	} else if c, ok := h.cfg.VisitorData.(conditionalPutNamespace); ok {
		vd, err = c.PutNamespaceIfMatch(r.Context(), s, ns, body, ifMatch)
	} else {
		err = collector.Errorf(collector.EINVALID, "If-Match is not supported on a namespace PUT here; use PATCH")
	}
	if err != nil {
		return err
	}
	return writeNamespace(w, http.StatusOK, vd, ns)
}

// conditionalPutNamespace is implemented by services that can replace one
// namespace on a condition (store.VisitorData does).
type conditionalPutNamespace interface {
	PutNamespaceIfMatch(ctx context.Context, s collector.Subject, ns string, value json.RawMessage, ifMatch *int64) (*collector.VisitorData, error)
}

// PATCH /v1/SUBJECT/visitor-data/{namespace}
func (h *Handler) patchNamespace(w http.ResponseWriter, r *http.Request) error {
	s, ns, ifMatch, err := h.namespaceWrite(r)
	if err != nil {
		return err
	}
	body, err := readBody(w, r, protocol.MaxVisitorDataBytes, mediaMergePatch)
	if err != nil {
		return err
	}
	vd, err := h.cfg.VisitorData.PatchNamespace(r.Context(), s, ns, body, ifMatch)
	if err != nil {
		return err
	}
	return writeNamespace(w, http.StatusOK, vd, ns)
}

// DELETE /v1/SUBJECT/visitor-data/{namespace}
func (h *Handler) deleteNamespace(w http.ResponseWriter, r *http.Request) error {
	s, ns, ifMatch, err := h.namespaceWrite(r)
	if err != nil {
		return err
	}
	vd, err := h.cfg.VisitorData.DeleteNamespace(r.Context(), s, ns, ifMatch)
	if err != nil {
		return err
	}
	setETag(w, vd.Version)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// visitorDataRequest checks what every visitor-data call needs and
// returns the subject of the path.
func (h *Handler) visitorDataRequest(r *http.Request) (collector.Subject, error) {
	if h.cfg.VisitorData == nil {
		return collector.Subject{}, collector.Errorf(collector.EUNAVAILABLE, "visitor data is not configured")
	}
	if _, err := query(r); err != nil {
		return collector.Subject{}, err
	}
	if r.PathValue("identityId") != "" {
		id, err := pathID(r, "identityId")
		return collector.Subject{Kind: collector.SubjectIdentity, ID: id}, err
	}
	id, err := pathID(r, "visitorId")
	return collector.Subject{Kind: collector.SubjectVisitor, ID: id}, err
}

func (h *Handler) namespaceRequest(r *http.Request) (collector.Subject, string, error) {
	s, err := h.visitorDataRequest(r)
	if err != nil {
		return s, "", err
	}
	ns := r.PathValue("namespace")
	if !protocol.ValidNamespace(ns) {
		return s, "", collector.Errorf(collector.EINVALID, "namespace name %q must match ^[a-z][a-z0-9_]{0,63}$", clip(ns))
	}
	return s, ns, nil
}

// namespaceWrite is namespaceRequest for writes: it checks the
// namespace's write scope and reads the optional If-Match.
func (h *Handler) namespaceWrite(r *http.Request) (collector.Subject, string, *int64, error) {
	s, ns, err := h.namespaceRequest(r)
	if err != nil {
		return s, ns, nil, err
	}
	if err := RequireScope(r, collector.ScopeVisitorDataWrite+ns); err != nil {
		return s, ns, nil, err
	}
	ifMatch, err := ifMatchHeader(r)
	return s, ns, ifMatch, err
}

// mayWriteSome reports whether t can write at least one namespace.
func mayWriteSome(t *collector.Token) bool {
	if t == nil {
		return false
	}
	for _, s := range t.Scopes {
		if s == collector.ScopeAdmin || strings.HasPrefix(s, collector.ScopeVisitorDataWrite) {
			return true
		}
	}
	return false
}

// ifMatchHeader reads If-Match: nil when absent, else the version of the
// one entity tag it names ("3"; a bare 3 is accepted too). "*" is refused:
// it would match any version, which is what If-Match is there to prevent.
func ifMatchHeader(r *http.Request) (*int64, error) {
	vals := r.Header.Values("If-Match")
	if len(vals) == 0 {
		return nil, nil
	}
	v := strings.TrimSpace(strings.Join(vals, ","))
	if v == "*" {
		return nil, collector.Errorf(collector.EINVALID, `If-Match: * is not accepted; send the ETag you read, such as "3"`)
	}
	if unq, ok := strings.CutPrefix(v, `"`); ok {
		v, ok = strings.CutSuffix(unq, `"`)
		if !ok {
			v = "?"
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return nil, collector.Errorf(collector.EINVALID, `If-Match must be one ETag as returned by GET, such as "3", not %q`, clip(r.Header.Get("If-Match")))
	}
	return &n, nil
}

func setETag(w http.ResponseWriter, version int64) {
	w.Header().Set("ETag", `"`+strconv.FormatInt(version, 10)+`"`)
}

func writeDocument(w http.ResponseWriter, vd *collector.VisitorData) error {
	setETag(w, vd.Version)
	data := vd.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return writeJSON(w, http.StatusOK, documentView{Version: vd.Version, Data: data})
}

// writeNamespace answers one namespace of vd; ENOTFOUND when vd lacks it.
func writeNamespace(w http.ResponseWriter, status int, vd *collector.VisitorData, ns string) error {
	var doc map[string]json.RawMessage
	if len(vd.Data) > 0 {
		if err := json.Unmarshal(vd.Data, &doc); err != nil {
			return err
		}
	}
	v, ok := doc[ns]
	if !ok {
		return collector.Errorf(collector.ENOTFOUND, "namespace %s not found (document version %d)", ns, vd.Version)
	}
	setETag(w, vd.Version)
	return writeJSON(w, status, namespaceView{Version: vd.Version, Namespace: ns, Data: v})
}

// clip keeps hostile input short in error messages.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
