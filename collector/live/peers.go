package live

import (
	"context"
	"strings"

	"github.com/visitrack/visitrack/collector"
)

// Peers carries what a hub does for its own sockets to the hubs of the
// other collectors that share its database (docs/deployment-push.md), so
// that a write made through one node reaches the browsers connected to
// any. It hears only of what already committed, and must never block:
// the callers are request handlers and, for identity changes, the
// socket's own frame loop. Nil (SQLite, one node) costs nothing.
//
// The receiving side calls the hub's Peer… methods, which act on this
// hub's sockets alone and announce nothing further.
type Peers interface {
	// VisitorDataChanged announces a committed write of the subject's
	// document at version.
	VisitorDataChanged(s collector.Subject, version int64)
	// SubjectErased announces an erasure of the subject.
	SubjectErased(s collector.Subject)
	// IdentityChanged announces that the visit's identity changed (a
	// SignIn or SignOut): its sockets whose subject is neither keep nor
	// the visitor's own are moved off it (see identityChanged).
	IdentityChanged(visitID, visitorID string, keep collector.Subject)
	// IdentitiesMerged announces a committed merge (rec) of from into
	// into, or its undo (rec.State is MergeUndone): the other nodes'
	// ingest writers cached visits that name the identities as they were.
	IdentitiesMerged(rec *collector.IdentityMerge)
	// Notify hands n to the other nodes' pages of its visit and returns
	// how many they reached, waiting a short bounded time for their
	// counts.
	Notify(ctx context.Context, n *collector.Notification) (int, error)
}

// IdentitiesMerged tells the other nodes of a committed merge or undo, so that
// they drop the visits their writers cached with the merged-away identity
// and sweep what they filed under it meanwhile, as this node's caller did
// for itself.
func (h *Hub) IdentitiesMerged(rec *collector.IdentityMerge) {
	if h.cfg.Peers != nil {
		h.cfg.Peers.IdentitiesMerged(rec)
	}
}

// PeerVisitorDataChanged is another node's VisitorDataChanged: the
// announcement carried only the subject and version, so the document is
// read here, once for all of this hub's sockets of the subject, and only
// when there are some. What the read finds may be newer than announced;
// each socket sends only versions newer than the one it holds.
func (h *Hub) PeerVisitorDataChanged(ctx context.Context, s collector.Subject, version int64) {
	if !h.hasSubscribers(s.Key()) {
		return
	}
	vd, err := h.read(ctx, s)
	if err != nil {
		return // read logs it
	}
	h.pushLocal(vd)
}

// PeerSubjectErased is another node's SubjectErased.
func (h *Hub) PeerSubjectErased(s collector.Subject) { h.subjectErased(s) }

// PeerIdentityChanged is another node's identityChanged: no socket here
// made the change, so none is spared.
func (h *Hub) PeerIdentityChanged(visitID, visitorID string, keep collector.Subject) {
	h.demoteOthers(visitID, visitorID, keep.Key(), nil)
}

// PeerNotify is another node's Notify: this hub's pages of the visit get
// it, and the count goes back to the node that asked.
func (h *Hub) PeerNotify(ctx context.Context, n *collector.Notification) (int, error) {
	return h.notifyLocal(ctx, n)
}

// HasVisit reports whether a socket of the visit is open here, so that a
// node need not read a notification no page of it would get.
func (h *Hub) HasVisit(visitID string) bool {
	return h.visits.has(visitID)
}

// Resync makes every socket send its subject's document as stored now,
// whatever its version: after this node missed announcements (its link
// to the other nodes was down), a socket may hold an old document, or one
// erased since, whose versions started again.
func (h *Hub) Resync() int {
	h.mu.Lock()
	type target struct {
		c *conn
		s collector.Subject
	}
	var all []target
	for key, c := range h.subs.all() {
		kind, id, ok := strings.Cut(key, ":")
		if !ok || (kind != collector.SubjectVisitor && kind != collector.SubjectIdentity) {
			continue // a cookieless visit has no document
		}
		all = append(all, target{c, collector.Subject{Kind: kind, ID: id}})
	}
	h.mu.Unlock()
	for _, t := range all {
		s := t.s
		t.c.enqueuePush(pushItem{subject: s.Key(), resync: &s})
	}
	return len(all)
}
