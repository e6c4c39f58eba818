package ingest

import "github.com/visitrack/visitrack/collector/store"

// visitCache remembers open visits so that the writer need not read a
// visit for every frame. Only the writer goroutine touches it, and every
// write to visits goes through the writer, so it stays true; anything that
// writes around it (erasure) clears it.
type visitCache struct {
	max int
	m   map[string]*cachedVisit
}

type cachedVisit struct {
	store.VisitState
	// written is the last_seen_at value known to be stored.
	written int64
}

func newVisitCache(max int) *visitCache {
	return &visitCache{max: max, m: make(map[string]*cachedVisit)}
}

func (c *visitCache) get(visitID string) *cachedVisit { return c.m[visitID] }

func (c *visitCache) put(v *store.VisitState) *cachedVisit {
	if len(c.m) >= c.max {
		clear(c.m) // rare: visits reload from the database
	}
	e := &cachedVisit{VisitState: *v, written: v.LastSeenAt}
	c.m[v.VisitID] = e
	return e
}

func (c *visitCache) delete(visitID string) { delete(c.m, visitID) }

func (c *visitCache) clear() { clear(c.m) }
