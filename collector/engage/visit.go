package engage

// A visit's state in the engine: created when the engine first meets the
// visit, rebuilt from its stored events, forgotten when it ends or is the
// least recently active over MaxVisits.

import (
	"context"
	"slices"
	"time"

	"github.com/oklog/ulid/v2"
)

// stopDwell cancels the visit's dwell timers.
func (v *visit) stopDwell() {
	for i, t := range v.dwell {
		if t != nil {
			t.Stop()
			v.dwell[i] = nil
		}
	}
}

// visit returns ev's visit, rebuilt from its stored events when the
// engine meets it for the first time.
func (e *Engine) visit(ctx context.Context, s *snapshot, ev *Event) *visit {
	if v := e.visits[ev.VisitID]; v != nil {
		e.lru.MoveToFront(v.elem)
		if v.layout != s.index.layout {
			v.relayout(s.index.layout)
		}
		return v
	}
	v := e.newVisit(s, ev.VisitID, ev.VisitorID, ev.At)
	if e.mayHaveHistory(ev.VisitID) {
		e.rebuild(ctx, s, v, ev.At)
	}
	return v
}

// historyMargin is how far a browser's clock (which times a visit's id)
// may be ahead of the collector's for mayHaveHistory.
const historyMargin = time.Minute

// mayHaveHistory tells whether a visit met for the first time may have
// events stored that the engine did not see: one whose id (a ULID, timed
// by the browser that made it) is older than the engine's start, with a
// margin; or any visit once the engine forgot one (MaxVisits). A visit
// started since costs no read: the hot path of new visits stays free.
func (e *Engine) mayHaveHistory(visitID string) bool {
	if e.cfg.History == nil {
		return false
	}
	if e.forgotten || e.cfg.Shared {
		return true
	}
	id, err := ulid.ParseStrict(visitID)
	return err != nil || ulid.Time(id.Time()).Before(e.started.Add(historyMargin))
}

// rebuild replays the visit's stored events before the first one the
// engine meets (bounded: the latest historyLimit of the window), so that
// counts, seen events, the current page and the visit's start survive a
// restart. A new visit has none: one indexed read.
func (e *Engine) rebuild(ctx context.Context, s *snapshot, v *visit, before int64) {
	if e.cfg.History == nil {
		return
	}
	started, evs, err := e.cfg.History(ctx, v.id, before-s.window, before, historyLimit)
	if err != nil {
		e.cfg.Logger.Error("engage: rebuild a visit's state", "visitId", v.id, "err", err)
		return
	}
	if started > 0 {
		v.startedAt = started
	}
	for i := range evs {
		e.apply(ctx, s, v, &evs[i], false)
	}
}

// newVisit starts a visit's state, laid out for the rules of s,
// forgetting the least recently active visit beyond MaxVisits.
func (e *Engine) newVisit(s *snapshot, id, visitorID string, startedAt int64) *visit {
	v := &visit{id: id, visitorID: visitorID, startedAt: startedAt}
	v.relayout(s.index.layout)
	v.elem = e.lru.PushFront(v)
	e.visits[v.id] = v
	for len(e.visits) > e.cfg.MaxVisits {
		old := e.lru.Back().Value.(*visit)
		e.forget(old)
		e.forgotten = true
	}
	return v
}

// forget drops v's state and its dwell timers.
func (e *Engine) forget(v *visit) {
	v.stopDwell()
	e.lru.Remove(v.elem)
	delete(e.visits, v.id)
}

// firedDwell notes that r made its offer for v's current page and visit:
// its dwell conditions hold no more for them.
func (v *visit) firedDwell(r *crule) {
	for i := range r.When {
		if d := r.When[i].Dwell; d != nil {
			v.dwellFired[r.conds[i].fired] = v.dwellFrom(d)
		}
	}
}

// dwellFrom is when the dwell d counts from: the current page's entry or
// the visit's start (0: no page yet).
func (v *visit) dwellFrom(d *DwellCondition) int64 {
	if d.On == "page" {
		return v.pageAt
	}
	return v.startedAt
}

// refresh rebuilds, with several nodes on one database, the state of each
// visit of a batch that the engine knows already: the other nodes may
// have stored events of it since (docs/engagement.md). A visit it does
// not know is rebuilt when met.
func (e *Engine) refresh(ctx context.Context, s *snapshot, evs []Event) {
	clear(e.refreshed)
	for i := range evs {
		ev := &evs[i]
		if _, done := e.refreshed[ev.VisitID]; done {
			continue
		}
		e.refreshed[ev.VisitID] = struct{}{}
		v := e.visits[ev.VisitID]
		if v == nil {
			continue
		}
		if v.layout != s.index.layout {
			v.relayout(s.index.layout)
		}
		clear(v.seen)
		for i := range v.rings {
			v.rings[i] = ring{at: v.rings[i].at[:0]}
		}
		v.cats, v.pageAt = v.cats[:0], 0
		e.rebuild(ctx, s, v, ev.At)
	}
}

// ring keeps the times of the latest events a matcher counted: once
// full, an event takes the place of the oldest, without the allocation
// (and copy) that sliding a slice along would cost every few events. The
// count conditions of all rules counting the same events share it, its
// length the largest count they ask.
type ring struct {
	at   []int64
	next int // where the next time goes, once full
}

// add notes an event at t, keeping the latest n.
func (w *ring) add(t int64, n int) {
	if len(w.at) < n {
		w.at = append(w.at, t)
		return
	}
	w.at[w.next] = t
	if w.next++; w.next >= n {
		w.next = 0
	}
}

// nth is the time of the n-th latest event, and whether there were n.
func (w *ring) nth(n int) (int64, bool) {
	switch {
	case len(w.at) < n:
		return 0, false
	case w.next == 0:
		return w.at[len(w.at)-n], true
	}
	// next-n is at least -len(at): one turn brings it back in.
	i := w.next - n
	if i < 0 {
		i += len(w.at)
	}
	return w.at[i], true
}

// ordered is the ring's times, oldest first.
func (w *ring) ordered() []int64 {
	return append(slices.Clone(w.at[w.next:]), w.at[:w.next]...)
}

// relayout lays v's state out for l, keeping what l's rules still watch:
// the seen events and counted times of the same matchers, the dwell
// timers and fired dwells of the same rules (same version). The state of
// what no rule watches any more is dropped, its timers stopped.
func (v *visit) relayout(l *layout) {
	var old layout
	if v.layout != nil {
		old = *v.layout
	}
	v.layout = l
	seen := make([]bool, len(l.seen))
	for i, k := range old.seen {
		if j := l.at(slotSeen, k); j >= 0 {
			seen[j] = v.seen[i]
		}
	}
	rings := make([]ring, len(l.rings))
	for i, k := range old.rings {
		if j := l.at(slotRing, k); j >= 0 {
			at := v.rings[i].ordered()
			rings[j].at = at[max(0, len(at)-l.sizes[j]):]
		}
	}
	fired := make([]int64, len(l.fired))
	for i, k := range old.fired {
		if j := l.at(slotFired, k); j >= 0 {
			fired[j] = v.dwellFired[i]
		}
	}
	dwell := make([]*time.Timer, len(l.dwell))
	for i, k := range old.dwell {
		if t := v.dwell[i]; t != nil {
			if j := l.at(slotDwell, k); j >= 0 {
				dwell[j] = t
			} else {
				t.Stop()
			}
		}
	}
	v.seen, v.rings, v.dwellFired, v.dwell = seen, rings, fired, dwell
}
