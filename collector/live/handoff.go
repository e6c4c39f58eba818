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

// The cross-domain handoff (docs/identity.md#cross-domain-handoff): a tracker asks for a token
// (the handoff frame, or POST /v1/handoff), adds it to a link to another
// site as _vt_x, and the tracker there presents it in hello or its first
// /v1/collect. The token rules are in identity/handoff.go.

// handoffToken issues a token for the visit the client settled on. The
// identity goes with it only when this browser proved it now: the visit
// is verified and the browser holds a valid recognition token of that
// very identity (presented, or issued by a verified SignIn). Naming a
// verified visit's ids is not enough, and an unverified claim never
// carries over.
func (h *Hub) handoffToken(v ingest.Visit) (string, error) {
	identityID := ""
	if v.Verified && v.IdentityID != "" && v.Recognition != nil {
		if c, ok := h.verifyToken(*v.Recognition); ok && c.Verified && c.IdentityID == v.IdentityID {
			identityID = v.IdentityID
		}
	}
	return h.cfg.Handoffs.Issue(v.VisitorID, v.VisitorKey, identityID)
}

// ServeHandoff serves POST /v1/handoff: the HTTP way to get a handoff
// token, with the ids and proofs the tracker sends to /v1/collect (and,
// in first-party mode, the collector's cookies). It settles the visit as
// an empty /v1/collect would, then answers {"token": …}.
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
	c := ingest.Client{VisitorID: req.VisitorID, VisitorKey: req.VisitorKey, VisitID: req.VisitID, Recognition: req.Recognition,
		UserAgent: r.UserAgent(), IP: h.clientIP(r)}
	if p.on {
		readJar(r).apply(&c)
	}
	res, err := h.cfg.Ingester.Collect(r.Context(), c, "", nil)
	if err != nil {
		h.internalError(w, "handoff", err)
		return
	}
	tok, err := h.handoffToken(res.Visit)
	if err != nil {
		h.internalError(w, "handoff", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(&protocol.Handoff{Token: tok})
}

// handoff answers a handoff frame on the connection's visit.
func (c *conn) handoff(ctx context.Context, f *ingest.Frame) error {
	if c.hub.cfg.Handoffs == nil {
		c.writeError(ctx, "handoff_unavailable", "this collector issues no handoff tokens", f.RequestID)
		return nil
	}
	tok, err := c.hub.handoffToken(c.visit)
	if err != nil {
		c.hub.cfg.Logger.Error("handoff", "err", err)
		c.writeError(ctx, protocol.CodeInternal, "no handoff token; try again", f.RequestID)
		return nil
	}
	return c.write(ctx, &protocol.Handoff{Type: protocol.TypeHandoff, RequestID: f.RequestID, Token: tok})
}

// redeemHandoff applies a handoff token the browser brought from another
// site: the client becomes the first site's visitor (with its key), in a
// new visit, and
// when that browser was verified it presents a fresh recognition token of
// the identity, so that ingest makes the visit recognized and verified.
// A token that is garbage, forged, expired or used before changes
// nothing: the request goes on as if it had none, and reveals nothing.
func (h *Hub) redeemHandoff(ctx context.Context, tok string, c *ingest.Client) {
	if tok == "" || h.cfg.Handoffs == nil {
		return
	}
	claims, err := h.cfg.Handoffs.Redeem(ctx, h.cfg.Links, tok)
	if err != nil {
		h.refuseHandoff(err)
		return
	}
	userID := ""
	if claims.IdentityID != "" {
		if userID, err = h.cfg.Links.IdentityUserID(ctx, claims.IdentityID); err != nil {
			// The token is spent; the browser comes over anonymous.
			h.cfg.Logger.Error("handoff identity", "err", err)
		}
	}
	c.VisitorID, c.VisitorKey, c.VisitID, c.Recognition = claims.VisitorID, claims.VisitorKey, "", nil
	if userID != "" {
		rec := h.cfg.Signer.Issue(claims.IdentityID, userID, true)
		c.Recognition = &rec
	}
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
