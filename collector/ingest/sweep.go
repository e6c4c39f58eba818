package ingest

import (
	"context"
)

// SweepLimit bounds the visits one round of the visit-timeout sweep ends,
// so that it never holds the writer for long; the next round continues.
const SweepLimit = 500

// EndIdleVisits ends the visits idle for the visit timeout, oldest first,
// at their last activity plus the timeout, writing VisitEnded and closing
// their sessions; it returns how many it ended. It ends at most limit
// visits (at most SweepLimit; 0 means SweepLimit). Ending a visit is a
// write like any other, so it stays here with the writer; the round that
// calls it, its pace and its lock are package maintain's.
//
// Natively it runs in the writer's transaction, and where nodes share the
// database it first waits for the visits' locks, reading each as the node
// that wrote it committed it. In Direct mode each visit's writes are done
// before the next visit is looked at, so a sweep cut short leaves no visit
// ended without its VisitEnded; on D1 it costs one query, plus five per
// visit it ends.
func (t Tx) EndIdleVisits(ctx context.Context, limit int) (int, error) {
	in, b := t.in, t.b
	if limit <= 0 || limit > SweepLimit {
		limit = SweepLimit
	}
	now := in.now().UnixMilli()
	ids, err := in.cfg.Store.IdleVisits(ctx, b.q, now-in.cfg.VisitTimeout.Milliseconds(), limit)
	if err != nil {
		return 0, err
	}
	if in.shared {
		if err := in.lockMore(ctx, b, ids); err != nil {
			return 0, err
		}
	}
	ended := 0
	for _, id := range ids {
		if in.cfg.Direct {
			b = newBatch(newVisitCache(1))
			b.q = t.b.q
		}
		done, err := in.sweepVisit(ctx, b, id, now)
		if err == nil && in.cfg.Direct {
			err = in.flush(ctx, b, true)
		}
		if err != nil {
			return ended, err
		}
		if done {
			ended++
		}
	}
	return ended, nil
}

// sweepVisit ends visit id if it has been idle for the visit timeout at
// now, and reports whether it did.
func (in *Ingester) sweepVisit(ctx context.Context, b *batch, id string, now int64) (bool, error) {
	timeout := in.cfg.VisitTimeout.Milliseconds()
	v := b.cache.get(id)
	if v == nil {
		st, err := in.cfg.Store.LoadVisit(ctx, b.q, id)
		if err != nil {
			return false, err
		}
		if st == nil || st.EndedAt != 0 {
			return false, nil
		}
		v = b.cache.put(st)
	}
	last, err := in.cfg.Store.LastActivity(ctx, b.q, id)
	if err != nil {
		return false, err
	}
	v.LastSeenAt = max(v.LastSeenAt, last)
	if now-v.LastSeenAt <= timeout {
		// Active, but the stored last_seen_at lagged: store it so the
		// next sweep does not look again.
		b.touch(id, v.LastSeenAt)
		v.written = 0
		return false, nil
	}
	return in.endVisit(ctx, b, v, v.LastSeenAt+timeout, now)
}
