package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/visitordata"
)

// versioned is a table of versioned JSON documents (visitor_data,
// visit_metadata): a key column, version, data and updated_at. Every write
// is a compare-and-set on the version in one statement, so that it works
// on D1, which has no transactions.
type versioned struct{ read, insert, update string }

func newVersioned(table, key string) versioned {
	return versioned{
		read: `SELECT version, data FROM ` + table + ` WHERE ` + key + ` = ?`,
		insert: `INSERT INTO ` + table + ` (` + key + `, version, data, updated_at)
			VALUES (?, 1, ?, ?) ON CONFLICT (` + key + `) DO NOTHING RETURNING version`,
		update: `UPDATE ` + table + ` SET version = version + 1, data = ?, updated_at = ?
			WHERE ` + key + ` = ? AND version = ? RETURNING version`,
	}
}

var (
	visitorDataTable = newVersioned("visitor_data", "subject")
	metadataTable    = newVersioned("visit_metadata", "visit_id")
)

// errRetry tells write that the compare-and-set lost and it may try again.
var errRetry = errors.New("version moved on")

// get returns a document's version and data: 0 and {} when there is none.
func (t versioned) get(ctx context.Context, q Querier, key string) (int64, []byte, error) {
	return scanVersioned(q.QueryRowContext(ctx, t.read, key))
}

// getHot is get on the database itself, with the read prepared once
// (Store.queryRowHot): every /v1/collect answer reads a visitor's data.
func (t versioned) getHot(ctx context.Context, s *Store, key string) (int64, []byte, error) {
	return scanVersioned(s.queryRowHot(ctx, t.read, key))
}

func scanVersioned(row *sql.Row) (int64, []byte, error) {
	var ver int64
	var data string
	err := row.Scan(&ver, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, []byte(visitordata.Empty), nil
	}
	if err != nil {
		return 0, nil, err
	}
	return ver, []byte(data), nil
}

// write is the read, compute, compare-and-set loop of a one-document write.
// next gets the stored document and returns the new one; its errors are
// returned as they are. Before the first write of a key, exists checks
// that its owner does (a mistyped id would otherwise grow an orphan). A
// lost compare-and-set is tried again, up to attempts times, unless
// ifMatch pinned the version (412). what names the document in errors.
// after, when not nil, runs in the same transaction as the write (on D1,
// right after it) with the new version: the webhook outbox.
func (t versioned) write(ctx context.Context, s *Store, key, what string, ifMatch *int64, attempts int,
	next func(cur []byte) ([]byte, error), exists func() error,
	after func(q Querier, ver int64, data []byte, at time.Time) error) (int64, []byte, time.Time, error) {
	for attempt := 0; attempt < attempts; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, attempt); err != nil {
				return 0, nil, time.Time{}, err
			}
		}
		ver, raw, err := t.get(ctx, s.db, key)
		if err != nil {
			return 0, nil, time.Time{}, err
		}
		if ifMatch != nil && *ifMatch != ver {
			return 0, nil, time.Time{}, staleError(ver, *ifMatch)
		}
		data, err := next(raw)
		if err != nil {
			return 0, nil, time.Time{}, err
		}
		if ver == 0 {
			if err := exists(); err != nil {
				return 0, nil, time.Time{}, err
			}
		}
		now := s.now()
		if after == nil {
			err = t.cas(ctx, s.db, key, ver, data, now)
		} else {
			err = s.inTx(ctx, func(q Querier) error {
				if err := t.cas(ctx, q, key, ver, data, now); err != nil {
					return err
				}
				return after(q, ver+1, data, now)
			})
		}
		if errors.Is(err, errRetry) {
			if ifMatch != nil {
				return 0, nil, time.Time{}, staleError(ver+1, *ifMatch)
			}
			continue
		}
		if err != nil {
			return 0, nil, time.Time{}, s.full(err)
		}
		return ver + 1, data, now, nil
	}
	return 0, nil, time.Time{}, collector.Errorf(collector.ECONFLICT,
		"%s kept changing during %d attempts; try again", what, attempts)
}

// cas writes data as version from+1 if the stored version is still from
// (0: no row). It returns errRetry when it is not. One statement, with
// RETURNING so that D1 and SQLite report the outcome alike (no row: the
// compare failed).
func (t versioned) cas(ctx context.Context, q Querier, key string, from int64, data []byte, now time.Time) error {
	var got int64
	var err error
	if from == 0 {
		err = q.QueryRowContext(ctx, t.insert, key, string(data), ms(now)).Scan(&got)
	} else {
		err = q.QueryRowContext(ctx, t.update, string(data), ms(now), key, from).Scan(&got)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return errRetry
	}
	return err
}
