package live

import "iter"

// connSet groups open connections by a key: the subject whose visitor
// data they receive (the hub's subscriptions), or the visit they belong
// to (the visit index, for notifications and demotions). A connection is
// in at most one group at a time, so the set keeps the reverse index too:
// moving a connection to another key, or removing it when it ends, must
// not search every group. A group left empty is dropped, so that the keys
// are exactly those with connections.
//
// It holds no lock of its own: its owner guards it, so that each use
// keeps its locking rule (the subscriptions live under Hub.mu beside the
// registry of connections; the visit index has its own mutex).
type connSet[K comparable] struct {
	groups map[K]map[*conn]struct{}
	keys   map[*conn]K
}

// move puts c into k's group, out of the one it was in, if any.
func (s *connSet[K]) move(c *conn, k K) {
	if s.groups == nil {
		s.groups, s.keys = map[K]map[*conn]struct{}{}, map[*conn]K{}
	}
	s.remove(c)
	g := s.groups[k]
	if g == nil {
		g = map[*conn]struct{}{}
		s.groups[k] = g
	}
	g[c] = struct{}{}
	s.keys[c] = k
}

// remove takes c out of its group; it is a no-op for a connection in
// none.
func (s *connSet[K]) remove(c *conn) {
	k, ok := s.keys[c]
	if !ok {
		return
	}
	delete(s.keys, c)
	g := s.groups[k]
	delete(g, c)
	if len(g) == 0 {
		delete(s.groups, k)
	}
}

// key returns the key of c's group; ok is false when c is in none.
func (s *connSet[K]) key(c *conn) (k K, ok bool) {
	k, ok = s.keys[c]
	return k, ok
}

// members returns a copy of k's group, so that the caller can reach the
// connections after it released the owner's lock.
func (s *connSet[K]) members(k K) []*conn {
	g := s.groups[k]
	out := make([]*conn, 0, len(g))
	for c := range g {
		out = append(out, c)
	}
	return out
}

// count returns how many connections k's group holds.
func (s *connSet[K]) count(k K) int { return len(s.groups[k]) }

// groupKeys returns the keys that have connections.
func (s *connSet[K]) groupKeys() []K {
	out := make([]K, 0, len(s.groups))
	for k := range s.groups {
		out = append(out, k)
	}
	return out
}

// all yields every connection with its key; the caller holds the owner's
// lock throughout.
func (s *connSet[K]) all() iter.Seq2[K, *conn] {
	return func(yield func(K, *conn) bool) {
		for c, k := range s.keys {
			if !yield(k, c) {
				return
			}
		}
	}
}
