package live

import (
	"context"
	"sync"
)

// visitIndex finds the open connections of a visit, for notifications
// (notify.go) and for the demotion of a visit's other tabs (demote.go). A
// connection enters it when it adopts a visit (after its welcome is
// settled) and leaves it when it adopts another or ends. Its own mutex,
// not Hub.mu, guards it: demoteOthers reads a visit's connections and
// then takes Hub.mu for each.
type visitIndex struct {
	mu      sync.Mutex
	byVisit connSet[string] // visitId → connections
}

func (x *visitIndex) set(c *conn, visitID string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byVisit.move(c, visitID)
}

func (x *visitIndex) remove(c *conn) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.byVisit.remove(c)
}

// ids returns the visits that have a connection.
func (x *visitIndex) ids() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.byVisit.groupKeys()
}

// conns returns the visit's connections.
func (x *visitIndex) conns(visitID string) []*conn {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.byVisit.members(visitID)
}

// has reports whether the visit has a connection.
func (x *visitIndex) has(visitID string) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.byVisit.count(visitID) > 0
}

// OpenVisits returns the visit ids of the open connections that have been
// welcomed, one per visit (api.Config.Connections).
func (h *Hub) OpenVisits(context.Context) ([]string, error) {
	return h.visits.ids(), nil
}
