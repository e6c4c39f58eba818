package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/visitrack/visitrack/collector/store"
)

// Dialect is the store's SQL said PostgreSQL's way where it cannot be
// written alike: store.PostgresDialect's fragments (beside SQLite's, so
// that the differences read in one place), with what needs pgx.
func Dialect() store.Dialect {
	d := store.PostgresDialect()
	d.Migrate = Migrate
	d.Retryable = retryable
	return d
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
