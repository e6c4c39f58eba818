package store

import (
	"context"

	"github.com/visitrack/visitrack/collector"
)

// Engine is what the native database adds to the SQL both builds run:
// keeping its write-ahead log bounded, and telling a full disk from other
// failures. The edge build (D1) has none; package sqlite has one.
type Engine interface {
	// AfterCommit runs on the ingest writer between two of its
	// transactions, so that it can checkpoint without racing the writes
	// that make the log grow. It must be cheap when there is nothing to do.
	AfterCommit(ctx context.Context)
	// StorageFull reports whether err says the disk (or the database's
	// size limit) is full: the write may succeed again once space returns.
	StorageFull(err error) bool
}

// WithEngine sets the native database's Engine.
func WithEngine(e Engine) Option { return func(s *Store) { s.engine = e } }

// Engine returns the native database's Engine (nil on D1), for what
// else it may tell (the daemon exports the log's figures).
func (s *Store) Engine() Engine { return s.engine }

// AfterCommit lets the engine keep the log bounded; see Engine.
func (s *Store) AfterCommit(ctx context.Context) {
	if s.engine != nil {
		s.engine.AfterCommit(ctx)
	}
}

// StorageFull reports whether err says the disk is full; see Engine.
func (s *Store) StorageFull(err error) bool {
	return err != nil && s.engine != nil && s.engine.StorageFull(err)
}

// full turns a write that failed for lack of space into ESTORAGEFULL, so
// that the REST API answers 503 with Retry-After (and does not log each
// one as an internal error) while the disk is full; other errors pass.
func (s *Store) full(err error) error {
	if s.StorageFull(err) {
		return collector.Errorf(collector.ESTORAGEFULL, "the collector's disk is full: nothing was written; try again later")
	}
	return err
}
