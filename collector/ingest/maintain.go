package ingest

import (
	"context"
	"fmt"

	"github.com/visitrack/visitrack/collector/store"
)

// Maintain runs fn in the writer's transaction, in order with the writes,
// so that housekeeping (retention) never races ingest for the write lock
// and one small step at a time waits only for the commit it joins. fn
// returns the visits it deleted, which the writer's cache forgets. On the
// edge (Direct) fn runs on the database directly.
func (in *Ingester) Maintain(ctx context.Context, fn func(ctx context.Context, q store.Querier) (deletedVisits []string, err error)) error {
	if in.cfg.Direct {
		_, err := fn(ctx, in.cfg.Store.DB())
		return err
	}
	err := in.enqueue(ctx, &job{control: func(ctx context.Context, b *batch) error {
		ids, err := fn(ctx, b.q)
		for _, id := range ids {
			b.cache.delete(id)
		}
		return err
	}})
	if err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}
