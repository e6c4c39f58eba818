package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/visitrack/visitrack/collector/store"
)

// Dialect is the store's SQL said PostgreSQL's way where it cannot be
// written alike.
func Dialect() store.Dialect {
	return store.Dialect{
		Name:    "postgres",
		Migrate: Migrate,
		// SQLite's json_object and strftime; the time as SQLite writes it
		// (milliseconds, Z).
		TouchJSON: `json_build_object('at', to_char(to_timestamp(t.started_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
			'landingUrl', t.landing_url, 'referrer', t.referrer, 'referrerType', t.referrer_type, 'utm', t.utm::json)::text`,
		// The rows this transaction inserted carry its id in xmin.
		OwnEvents: `e.xmin = pg_current_xact_id()::xid`,
		Shared:    true,
		// Released at the commit or rollback: a node that dies mid-job
		// frees it with its session.
		TryLock:    `SELECT pg_try_advisory_xact_lock(?)`,
		SkipLocked: ` FOR UPDATE SKIP LOCKED`,
		// unnest yields the keys in the array's order, so the locks are
		// taken in it.
		LockKeys:  `SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(? AS bigint[])) AS t(k)`,
		Retryable: retryable,
	}
}

// NewStore returns a store on db, a database Open opened. It does not
// migrate; call Migrate on it.
func NewStore(db *sql.DB, opts ...store.Option) *store.Store {
	return store.New(db, append([]store.Option{store.WithDialect(Dialect()), store.WithEngine(engine{})}, opts...)...)
}

// engine tells the store what PostgreSQL's errors mean. It has no log to
// keep bounded: the server checkpoints on its own.
type engine struct{}

func (engine) AfterCommit(context.Context) {}

// StorageFull: disk_full (53100) and its relatives of class 53,
// insufficient resources, that pass once space returns.
func (engine) StorageFull(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "53100" || pgErr.Code == "53200")
}

// retryable: serialization_failure (40001) and deadlock_detected (40P01),
// the transaction's only fault being when it ran.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}
