package ingest

import (
	"context"
	"fmt"

	"github.com/visitrack/visitrack/collector/store"
)

// Tx is one maintenance round's hold on the writer (package maintain runs
// the rounds): natively the writer's transaction, in order with the
// writes, so that housekeeping never races ingest for the write lock and
// waits only for the commit it joins (docs/architecture.md#one-writer); in
// Direct mode (the edge) the database itself. It is valid only during the
// round.
type Tx struct {
	in *Ingester
	b  *batch
}

// Querier is where the round's statements go.
func (t Tx) Querier() store.Querier { return t.b.q }

// Forget tells the writer that visits were deleted, so that its cache does
// not speak for them any more.
func (t Tx) Forget(visitIDs []string) {
	for _, id := range visitIDs {
		t.b.cache.delete(id)
	}
}

// Maintain runs fn as one step of the writer, in the transaction of the
// commit it joins; an error from fn takes the step's writes back and
// leaves the other jobs of that commit alone. On the edge (Direct) fn runs
// on the database directly.
func (in *Ingester) Maintain(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	if in.cfg.Direct {
		b := newBatch(newVisitCache(1))
		b.q = in.cfg.Store.DB()
		return fn(ctx, Tx{in: in, b: b})
	}
	err := in.enqueue(ctx, &job{control: func(ctx context.Context, b *batch) error {
		return fn(ctx, Tx{in: in, b: b})
	}})
	if err != nil {
		return fmt.Errorf("maintain: %w", err)
	}
	return nil
}
