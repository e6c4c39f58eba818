package live

import (
	"context"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// A visit may be open in several tabs, each with its own socket. When one
// of them changes the visit's identity (SignOut, or a SignIn as someone
// else), the others must stop receiving the identity's visitor data at
// once, not at their next frame: the person may have left the computer
// (docs/security.md#browser-key). They are moved to the visitor's
// own document and told that the visit is anonymous to them. They are
// never promoted here: a socket learns of an identity only by presenting
// its token (the tracker reconnects with it when another tab signed in).

// identityChanged moves the visit's other sockets whose subject is not v's
// off it: to the visitor's subject, with an identity frame that says the
// visit is anonymous to them.
func (h *Hub) identityChanged(v ingest.Visit, except *conn) {
	if v.Cookieless {
		return
	}
	h.demoteOthers(v.VisitID, v.VisitorID, v.Subject().Key(), except)
	if h.cfg.Peers != nil {
		// The visit's other tabs may be connected to other nodes.
		h.cfg.Peers.IdentityChanged(v.VisitID, v.VisitorID, v.Subject())
	}
}

// demoteOthers moves this hub's sockets of the visit, but except, whose
// subject is neither keep nor the visitor's to the visitor's document.
func (h *Hub) demoteOthers(visitID, visitorID, keep string, except *conn) {
	visitor := collector.Subject{Kind: collector.SubjectVisitor, ID: visitorID}
	for _, c := range h.visits.conns(visitID) {
		if c == except {
			continue
		}
		subject := h.subjectOf(c)
		stale := subject != keep && subject != visitor.Key()
		if stale {
			c.enqueuePush(pushItem{demote: &visitor})
		}
	}
}

// sendDemotion runs in the push loop, under sendMu: the socket leaves the
// identity's document for the visitor's, and hears that its identity is
// gone; its next frame settles the visit again as usual.
func (c *conn) sendDemotion(visitor collector.Subject) error {
	ctx := context.Background()
	c.hub.subscribe(c, visitor.Key())
	vd, err := c.hub.read(ctx, visitor)
	if err != nil {
		return nil
	}
	c.last = vd
	if err := c.write(ctx, &protocol.Identity{Type: protocol.TypeIdentity, State: protocol.StateAnonymous}); err != nil {
		return err
	}
	return c.write(ctx, &protocol.VisitorDataView{Type: protocol.TypeVisitorData, Version: vd.Version, Data: protocol.RawJSON(vd.Data)})
}
