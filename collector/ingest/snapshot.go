package ingest

import (
	"context"
	"sync"

	"github.com/visitrack/visitrack/collector/store"
)

// maxSnapshots bounds the visits a Direct ingester keeps between requests
// (a few hundred bytes each); past it they are forgotten and read again.
const maxSnapshots = 4096

// visitSnapshots are the open visits that Direct collects resolved, kept
// for the next requests of the same edge isolate so that a collect on a
// known visit need not read it first (a D1 round trip). Another isolate
// may change a visit meanwhile: a snapshot is only ever used behind
// store.GuardVisit, which fails the request's whole batch when the visit
// is no longer as the snapshot says (see Speculate).
type visitSnapshots struct {
	mu sync.Mutex
	m  map[string]store.VisitState
}

func (s *visitSnapshots) get(visitID string) (store.VisitState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[visitID]
	return v, ok
}

// keep records the visits a collect resolved: open ones for the next
// requests, ended ones forgotten. It runs before the batch commits; a
// batch that then fails leaves a snapshot that the next guard refuses.
func (s *visitSnapshots) keep(c *visitCache) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil || len(s.m)+len(c.m) > maxSnapshots {
		s.m = make(map[string]store.VisitState)
	}
	for id, v := range c.m {
		if v.EndedAt != 0 || v.Cookieless {
			delete(s.m, id)
			continue
		}
		s.m[id] = v.VisitState
	}
}

func (s *visitSnapshots) forget(visitID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, visitID)
}

type speculateKey struct{}

// Speculate lets a Direct Collect on the returned context decide from the
// visit it kept from an earlier request of this ingester rather than read
// it, with store.GuardVisit first among its writes: the writes then commit
// only if the visit is still as it was. Use it only where every write of
// the collect is held for one all-or-nothing batch (the edge's d1batch
// Unit), and where a failure of that batch, or an error of the collect,
// runs the request again without Speculate: that run reads the visit and
// stores nothing twice (events are deduplicated by eventId). *used
// reports whether the collect used a kept visit.
func Speculate(ctx context.Context, used *bool) context.Context {
	return context.WithValue(ctx, speculateKey{}, used)
}

// Speculative reports whether a collect on ctx (Speculate) used a kept
// visit: its batch may then fail on the guard, and the request runs
// again, so a read that fails with it is expected, not an error to log.
func Speculative(ctx context.Context) bool {
	used, ok := ctx.Value(speculateKey{}).(*bool)
	return ok && *used
}

// speculate puts the kept copy of the job's visit into b, behind a guard,
// when ctx allows it (Speculate) and there is one.
func (in *Ingester) speculate(ctx context.Context, b *batch, j *job) error {
	used, ok := ctx.Value(speculateKey{}).(*bool)
	if !ok || j.client.Cookieless {
		return nil
	}
	v := &b.kept
	if *v, ok = in.snapshots.get(j.client.VisitID); !ok {
		return nil
	}
	if err := in.cfg.Store.GuardVisit(ctx, b.q, v); err != nil {
		in.snapshots.forget(v.VisitID)
		return err
	}
	b.cache.put(v)
	*used = true
	return nil
}
