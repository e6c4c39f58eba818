package server

import (
	"context"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/store"
)

// merging makes a merge hold against the native ingest writer, which
// caches visits with their identity: after a merge it drops the cache, so
// that the merged identity's open visits are read again with their new
// identity, and sweeps the rows that the writer filed under the old one
// between the merge's commit and the drop.
type merging struct {
	*store.Merger
	in  *ingest.Ingester
	hub *live.Hub // tells the other nodes, which cached the visits too
}

func (m merging) MergeIdentities(ctx context.Context, into, from string, opt collector.MergeOptions) (*collector.IdentityMerge, error) {
	rec, err := m.Merger.MergeIdentities(ctx, into, from, opt)
	if err != nil || rec.State != collector.MergeDone {
		return rec, err
	}
	// The merge has committed: finish the follow-up even if the client
	// hangs up.
	ctx = context.WithoutCancel(ctx)
	if err := m.in.InvalidateCache(ctx); err != nil {
		return nil, err
	}
	if err := m.Sweep(ctx, rec); err != nil {
		return nil, err
	}
	m.hub.IdentitiesMerged(rec)
	return rec, nil
}

// UndoMerge drops the ingest cache after an undo, for the same reason: the
// merged identity's open visits are its own again.
func (m merging) UndoMerge(ctx context.Context, mergeID string, opt collector.MergeOptions) (*collector.IdentityMerge, error) {
	rec, err := m.Merger.UndoMerge(ctx, mergeID, opt)
	if err != nil || rec.State != collector.MergeUndone {
		return rec, err
	}
	if err := m.in.InvalidateCache(context.WithoutCancel(ctx)); err != nil {
		return nil, err
	}
	m.hub.IdentitiesMerged(rec)
	return rec, nil
}
