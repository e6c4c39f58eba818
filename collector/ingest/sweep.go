package ingest

import (
	"context"
	"time"
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

func (in *Ingester) sweep(ctx context.Context, b *batch) error {
	now := in.now().UnixMilli()
	timeout := in.cfg.VisitTimeout.Milliseconds()
	ids, err := in.cfg.Store.IdleVisits(ctx, b.q, now-timeout, sweepLimit)
	if err != nil {
		return err
	}
	for _, id := range ids {
		v := b.cache.get(id)
		if v == nil {
			st, err := in.cfg.Store.LoadVisit(ctx, b.q, id)
			if err != nil {
				return err
			}
			if st == nil || st.EndedAt != 0 {
				continue
			}
			v = b.cache.put(st)
		}
		last, err := in.cfg.Store.LastActivity(ctx, b.q, id)
		if err != nil {
			return err
		}
		v.LastSeenAt = max(v.LastSeenAt, last)
		if now-v.LastSeenAt <= timeout {
			// Active, but the stored last_seen_at lagged: store it so the
			// next sweep does not look again.
			b.touch(id, v.LastSeenAt)
			v.written = 0
			continue
		}
		if err := in.endVisit(ctx, b, v, v.LastSeenAt+timeout, now); err != nil {
			return err
		}
	}
	return nil
}
