package engage

// Dwell timers across a restart: a dwell is timed in memory, so a page
// left open while the collector restarted would get its offer only with
// the visit's next event. As it starts, the engine rebuilds the state of
// the visits still open (at most MaxVisits, the most recently seen first)
// from their stored events and times their dwells again: one due while the
// collector was down fires at once, one not yet due when it is
// (docs/engagement.md, "Restarts").

import "context"

// OpenVisit is a visit still open, as Config.OpenVisits returns it.
type OpenVisit struct {
	VisitID, VisitorID string
}

// openVisits lists the open visits to restore: none when no rule has a
// dwell (the rest of a visit's state is rebuilt when it is next met).
func (e *Engine) openVisits(ctx context.Context) []OpenVisit {
	s := e.snap.Load()
	if e.cfg.OpenVisits == nil || e.cfg.History == nil || len(s.index.dwell) == 0 {
		return nil
	}
	open, err := e.cfg.OpenVisits(ctx, e.started.UnixMilli()-s.window, e.cfg.MaxVisits)
	if err != nil {
		e.cfg.Logger.Error("engage: list the open visits to time their dwells again", "err", err)
		return nil
	}
	return open
}

// restore rebuilds o's state from its events stored before the engine
// started (those committed since reach it through Committed) and times
// its dwells. A visit the engine met meanwhile is known already.
func (e *Engine) restore(ctx context.Context, s *snapshot, o OpenVisit) {
	if _, known := e.visits[o.VisitID]; known || len(s.index.dwell) == 0 {
		return
	}
	v := e.newVisit(s, o.VisitID, o.VisitorID, 0)
	e.rebuild(ctx, s, v, e.started.UnixMilli())
	if v.startedAt == 0 {
		// Unknown visit (erased meanwhile): nothing to time.
		e.forget(v)
		return
	}
	now := e.cfg.Now().UnixMilli()
	for _, r := range s.index.dwell {
		if v.dwellDue(r) {
			e.check(ctx, s, r, v, now)
		}
	}
}
