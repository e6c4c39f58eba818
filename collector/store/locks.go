package store

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
)

// Where several collectors write one database (docs/deployment.md), two
// nodes may write the same visit at the same moment: the WebSocket on one,
// a page's exit beacon on the other. Each writer takes the lock of every
// visit it is about to write for the rest of its transaction, so the
// writes of one visit happen one transaction after the other and each
// reads what the one before committed: the visit's state, session and
// identity, whether it ended. Locks are taken in the order of their keys,
// so that two transactions that want the same visits do not deadlock.

// Shared reports whether several collectors may write the database at
// once (the dialect's Shared).
func (s *Store) Shared() bool { return s.dialect.Shared }

// Retryable reports whether err failed a transaction only because another
// ran at the same time: the caller runs it again.
func (s *Store) Retryable(err error) bool {
	return s.dialect.Retryable != nil && s.dialect.Retryable(err)
}

// LockVisits takes the locks of the visits ids for the rest of the
// transaction q, waiting for other nodes' transactions that hold them.
// Where one collector writes the database it does nothing. keys is
// scratch space the caller may reuse; it is returned grown.
func (s *Store) LockVisits(ctx context.Context, q Querier, ids []string, keys []int64) ([]int64, error) {
	if s.dialect.LockKeys == "" || len(ids) == 0 {
		return keys, nil
	}
	keys = keys[:0]
	for _, id := range ids {
		keys = append(keys, visitKey(id))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	var n int64
	if err := q.QueryRowContext(ctx, s.dialect.LockKeys, keys).Scan(&n); err != nil {
		return keys, fmt.Errorf("lock %d visits: %w", len(keys), err)
	}
	return keys, nil
}

// visitKey is the lock key of a visit: FNV-1a of its id. Two visits may
// share a key (one in 2^64): they then wait for each other, no more.
func visitKey(id string) int64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037) // FNV-1a's offset basis
	for _, s := range [...]string{"visit ", id} {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint64(s[i])) * prime
		}
	}
	return int64(h)
}

// compareStatKeys orders rollup rows as their primary key does: AddStats
// adds them in this order where nodes share the database.
func compareStatKeys(a, b StatKey) int {
	return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Bucket, b.Bucket),
		strings.Compare(a.Key, b.Key), cmp.Compare(boolInt(a.Bot), boolInt(b.Bot)))
}
