package live

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The cross-domain handoff (docs/identity.md#cross-domain-handoff): a
// tracker asks for a token (the handoff frame, or POST /v1/handoff), adds
// it to a link to another site as _vt_x, and the tracker there presents it
// in hello or its first /v1/collect. A token is a pointer, not a
// credential (docs/security.md#handoff-link): minting needs a page of
// an allowed origin and the visitor's key, and redeeming one records where
// the browser came from and changes nothing of who it is. The token rules
// are in identity/handoff.go.

// ServeHandoff serves POST /v1/handoff: the HTTP way to get a handoff
// token, with the ids and key the tracker sends to /v1/collect (or, in
// first-party mode, the collector's cookies). Only a page of an allowed
// origin (a browser sends Origin with every POST) may ask, and only for a
// visitor whose key it holds, so that a server cannot mint links in
// someone else's name. It settles the visit as an empty /v1/collect
// would, then answers {"token": …}.
func (h *Hub) ServeHandoff(w http.ResponseWriter, r *http.Request) {
	var req protocol.HandoffRequest
	p, ok := h.browserPost(w, r, func(b []byte) (string, error) { return "", json.Unmarshal(b, &req) })
	if !ok {
		return
	}
	if h.cfg.Handoffs == nil {
		writeProblem(w, http.StatusNotImplemented, "handoff_unavailable", "this collector issues no handoff tokens")
		return
	}
	if r.Header.Get("Origin") == "" {
		writeProblem(w, http.StatusForbidden, "origin_required",
			"a handoff link is made by a page of an allowed origin; this request names none")
		return
	}
	c := ingest.Client{VisitorID: req.VisitorID, VisitorKey: req.VisitorKey, VisitID: req.VisitID, Recognition: req.Recognition,
		NoRecognize: true, UserAgent: r.UserAgent(), IP: h.clientIP(r)}
	if p.on {
		readJar(r).apply(&c)
	}
	if !protocol.IsULID(c.VisitorID) {
		writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "visitorId must be the ULID of the visitor the link is made for")
		return
	}
	res, err := h.cfg.Ingester.Collect(r.Context(), c, "", nil)
	if err != nil {
		h.internalError(w, "handoff", err)
		return
	}
	if res.Visit.VisitorID != c.VisitorID || res.Visit.VisitorKey != c.VisitorKey {
		// Another browser's id without its key (or a first contact, which
		// has nothing to link): the request was served as someone new.
		writeProblem(w, http.StatusForbidden, "visitor_unproven",
			"a handoff link needs the visitor's key; this request does not hold it")
		return
	}
	tok, err := h.cfg.Handoffs.Issue(res.Visit.VisitorID, res.Visit.VisitID)
	if err != nil {
		h.internalError(w, "handoff", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(&protocol.Handoff{Token: tok})
}

// handoff answers a handoff frame on the connection's visit: the
// connection proved the visitor's key in its hello; its page must be of
// an allowed origin, as for POST /v1/handoff.
func (c *conn) handoff(ctx context.Context, f *ingest.Frame) error {
	if c.hub.cfg.Handoffs == nil {
		c.writeError(ctx, "handoff_unavailable", "this collector issues no handoff tokens", f.RequestID)
		return nil
	}
	if c.req.Header.Get("Origin") == "" || c.visit.Cookieless {
		c.writeError(ctx, "origin_required", "a handoff link is made by a page of an allowed origin that keeps ids", f.RequestID)
		return nil
	}
	tok, err := c.hub.cfg.Handoffs.Issue(c.visit.VisitorID, c.visit.VisitID)
	if err != nil {
		c.hub.cfg.Logger.Error("handoff", "err", err)
		c.writeError(ctx, protocol.CodeInternal, "no handoff token; try again", f.RequestID)
		return nil
	}
	return c.write(ctx, &protocol.Handoff{Type: protocol.TypeHandoff, RequestID: f.RequestID, Token: tok})
}

// redeemHandoff takes a handoff token the browser brought from another
// site: its visit records where it came from (a HandoffArrived event), and
// nothing else changes: the browser keeps its own visitor, key and
// identity, and gets none of the issuing browser's. A token that is
// garbage, forged, expired or used before changes nothing: the request
// goes on as if it had none, and reveals nothing.
func (h *Hub) redeemHandoff(ctx context.Context, tok string, c *ingest.Client) {
	if tok == "" || h.cfg.Handoffs == nil {
		return
	}
	claims, err := h.cfg.Handoffs.Redeem(ctx, h.cfg.Links, tok)
	if err != nil {
		h.refuseHandoff(err)
		return
	}
	if claims.VisitorID == c.VisitorID {
		return // the browser came back to itself: nothing to record
	}
	c.HandoffFrom = &ingest.HandoffOrigin{VisitorID: claims.VisitorID, VisitID: claims.VisitID}
}

// refuseHandoff logs a refused handoff token without flooding the log:
// the 1st, 2nd, 4th, 8th… refusal since the start, with the count. The
// token itself is never logged.
func (h *Hub) refuseHandoff(err error) {
	n := h.handoffsRefused.Add(1)
	if n&(n-1) != 0 {
		return
	}
	reason := "invalid"
	switch {
	case errors.Is(err, identity.ErrExpired):
		reason = "expired"
	case errors.Is(err, identity.ErrReused):
		reason = "reused"
	case errors.Is(err, identity.ErrSignature):
		reason = "forged"
	case errors.Is(err, identity.ErrMalformed):
		reason = "malformed"
	default:
		h.cfg.Logger.Error("handoff token", "err", err)
		return
	}
	h.cfg.Logger.Warn("handoff token refused; the browser goes on as itself", "reason", reason, "refusedSinceStart", n)
}
