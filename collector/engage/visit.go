package engage

// A visit's state in the engine: created when the engine first meets the
// visit, rebuilt from its stored events, forgotten when it ends or is the
// least recently active over MaxVisits.

import (
	"context"
	"time"

	"github.com/oklog/ulid/v2"
)

// stopDwell cancels the visit's dwell timers.
func (v *visit) stopDwell() {
	for r, t := range v.dwell {
		t.Stop()
		delete(v.dwell, r)
	}
}

// visit returns ev's visit, rebuilt from its stored events when the
// engine meets it for the first time.
func (e *Engine) visit(ctx context.Context, s *snapshot, ev *Event) *visit {
	if v := e.visits[ev.VisitID]; v != nil {
		e.lru.MoveToFront(v.elem)
		return v
	}
	v := e.newVisit(ev)
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

// newVisit starts ev's visit's state, forgetting the least recently
// active visit beyond MaxVisits.
func (e *Engine) newVisit(ev *Event) *visit {
	v := &visit{id: ev.VisitID, visitorID: ev.VisitorID, startedAt: ev.At, seen: map[condKey]bool{},
		counts: map[condKey]window{}, dwell: map[*Rule]*time.Timer{}, dwellFired: map[condKey]int64{}, offers: map[string]string{}, accepted: map[string]bool{}}
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
func (v *visit) firedDwell(r *Rule) {
	for i := range r.When {
		if d := r.When[i].Dwell; d != nil {
			v.dwellFired[condKey{r, i}] = v.dwellFrom(d)
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
		clear(v.seen)
		clear(v.counts)
		v.cats, v.pageAt = v.cats[:0], 0
		e.rebuild(ctx, s, v, ev.At)
	}
}

// window keeps the times of a count condition's latest n events, in a
// ring: once full, an event takes the place of the oldest, without the
// allocation (and copy) that sliding a slice along would cost every few
// events.
type window struct {
	at   []int64
	next int // where the next time goes, once full
}

// add notes an event at t, keeping the latest n.
func (w window) add(t int64, n int) window {
	if len(w.at) < n {
		w.at = append(w.at, t)
		return w
	}
	w.at[w.next] = t
	w.next = (w.next + 1) % n
	return w
}

// first is the time of the earliest of the latest n events, and whether
// there were n.
func (w window) first(n int) (int64, bool) {
	if len(w.at) < n {
		return 0, false
	}
	return w.at[w.next], true
}
