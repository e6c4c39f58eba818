package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/visitrack/visitrack/collector/store"
)

// sweeper ends visits that have been idle for the visit timeout, writing
// VisitEnded. It runs its work through the writer, in order with ingest.
func (in *Ingester) sweeper() {
	defer in.wg.Done()
	every := min(max(in.cfg.VisitTimeout/4, 50*time.Millisecond), 15*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-in.closed:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := in.enqueue(ctx, &job{control: in.sweep})
			cancel()
			if err != nil && err != ErrClosed {
				in.cfg.Logger.Error("visit timeout sweep", "err", err)
			}
		}
	}
}

// sweepLimit bounds the visits one sweep ends, so it never holds the
// writer for long; the next tick continues.
const sweepLimit = 500

// sweep is one round of the sweeper. Collectors that share a database
// take turns: while one sweeps, the others skip their round, so that no
// visit is ended twice (docs/deployment.md).
func (in *Ingester) sweep(ctx context.Context, b *batch) error {
	if ok, err := in.cfg.Store.TryJob(ctx, b.q, store.JobSweep); !ok || err != nil {
		return err
	}
	now := in.now().UnixMilli()
	ids, err := in.cfg.Store.IdleVisits(ctx, b.q, now-in.cfg.VisitTimeout.Milliseconds(), sweepLimit)
	if err != nil {
		return err
	}
	if in.shared {
		// Another node may be writing one of them: wait for it, and read
		// each as it committed it.
		if err := in.lockMore(ctx, b, ids); err != nil {
			return err
		}
	}
	for _, id := range ids {
		if _, err := in.sweepVisit(ctx, b, id, now); err != nil {
			return err
		}
	}
	return nil
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

// Sweep is the visit-timeout sweep for Direct mode, where no sweeper runs
// (the edge build calls it from a Cron Trigger). Like the sweeper, it ends
// the visits idle for the visit timeout, oldest first, at their last
// activity plus the timeout, writing VisitEnded; it returns how many it
// ended. It ends at most limit visits (at most sweepLimit; 0 means
// sweepLimit). Each visit's writes are done before the next visit is
// looked at, so a sweep cut short leaves no visit ended without its
// VisitEnded. On D1 it costs one query, plus five per visit it ends.
func (in *Ingester) Sweep(ctx context.Context, limit int) (int, error) {
	if !in.cfg.Direct {
		return 0, errors.New("ingest: Sweep is for Direct mode; the writer sweeps by itself")
	}
	if limit <= 0 || limit > sweepLimit {
		limit = sweepLimit
	}
	now := in.now().UnixMilli()
	q := in.cfg.Store.DB()
	ids, err := in.cfg.Store.IdleVisits(ctx, q, now-in.cfg.VisitTimeout.Milliseconds(), limit)
	if err != nil {
		return 0, err
	}
	ended := 0
	for _, id := range ids {
		b := newBatch(newVisitCache(1))
		b.q = q
		done, err := in.sweepVisit(ctx, b, id, now)
		if err == nil {
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
