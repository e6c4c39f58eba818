package ingest

import (
	"context"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// Several collectors on one database (docs/deployment.md) write the same
// visits: the WebSocket of a page on one node, its exit beacon on another.
// Each writer's transaction takes the lock of every visit it writes
// (store.LockVisits) before it reads it, and reads it from the database
// rather than from the cache, which another node's commit may have made
// stale; within the transaction the cache holds again. Where one
// collector writes the database (SQLite) none of this runs.

// maxRetries bounds the runs of a transaction that failed only for
// running beside another node's; retryPause is the wait before the first
// rerun, growing with each.
const (
	maxRetries = 8
	retryPause = 5 * time.Millisecond
)

// lockVisits takes, at the start of the batch's transaction, the locks of
// the visits its jobs name, in one statement and in key order, so that two
// nodes' transactions never wait for each other's in a circle over them,
// and forgets the cached copies.
func (in *Ingester) lockVisits(ctx context.Context, b *batch, jobs []*job) error {
	if !in.shared {
		return nil
	}
	ids := b.lockIDs[:0]
	for _, j := range jobs {
		if j.control == nil && !j.client.Cookieless && protocol.IsULID(j.client.VisitID) {
			ids = append(ids, j.client.VisitID)
		}
	}
	b.lockIDs = ids
	return in.lockMore(ctx, b, ids)
}

// ownVisit takes the lock of a visit the transaction did not lock at its
// start (a cookieless visitor's, found by its visitor), and forgets the
// cached copy. A lock taken out of key order may deadlock with another
// node's transaction; PostgreSQL then fails one of them, which runs again.
func (in *Ingester) ownVisit(ctx context.Context, b *batch, visitID string) error {
	if !in.shared {
		return nil
	}
	if _, ok := b.locked[visitID]; ok {
		return nil
	}
	b.one[0] = visitID
	return in.lockMore(ctx, b, b.one[:])
}

// lockMore locks the visits ids that the transaction does not hold yet.
// Those it holds keep their cached copies: this transaction's writes to
// them are not all flushed yet.
func (in *Ingester) lockMore(ctx context.Context, b *batch, ids []string) error {
	fresh := b.fresh[:0]
	for _, id := range ids {
		if _, ok := b.locked[id]; !ok {
			fresh = append(fresh, id)
		}
	}
	b.fresh = fresh
	var err error
	if b.lockKeys, err = in.cfg.Store.LockVisits(ctx, b.q, fresh, b.lockKeys); err != nil {
		return err
	}
	for _, id := range fresh {
		b.locked[id] = struct{}{}
		b.cache.delete(id)
	}
	return nil
}

// retryable reports whether the failed transaction of jobs runs again:
// it failed only for running beside another node's, and has not run
// maxRetries times. The jobs are then reset to run anew, after a pause
// that lets the other transaction finish.
func (in *Ingester) retryable(err error, retries *int, jobs []*job) bool {
	if *retries >= maxRetries || !in.cfg.Store.Retryable(err) {
		return false
	}
	*retries++
	in.cfg.Logger.Debug("ingest: run a transaction again that collided with another node's", "attempt", *retries, "err", err)
	for _, j := range jobs {
		j.res, j.stitch, j.stored, j.late, j.err = Result{}, "", 0, false, nil
	}
	time.Sleep(time.Duration(*retries) * retryPause)
	return true
}
