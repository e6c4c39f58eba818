package store

import (
	"context"
	"database/sql"
	"time"
)

// Dialect is what one SQL engine says differently from the SQL the store
// is written in (SQLite's, which D1 runs too). The rest differs below the
// store: package postgres rebinds the parameters and gives PostgreSQL the
// few SQLite functions the statements call.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string
	// Migrate brings the schema up to date; nil applies the embedded
	// SQLite migrations (Store.Migrate).
	Migrate func(ctx context.Context, db *sql.DB, now func() time.Time) error
	// TouchJSON is a visit t as an identity's touch, a JSON object in
	// text: {at, landingUrl, referrer, referrerType, utm}.
	TouchJSON string
	// OwnEvents, when set, is a condition on events e that holds only
	// for the rows the current transaction inserted. Where other
	// transactions commit while one runs (PostgreSQL's READ COMMITTED),
	// CountEvents' rowid range alone would also take rows other nodes
	// inserted and counted; SQLite has a single writer. It applies to
	// CountEvents run in a transaction, as ingest runs it.
	OwnEvents string
	// Shared is true where several collectors may write the database at
	// once (PostgreSQL, docs/deployment.md); SQLite's file has one
	// collector.
	Shared bool
	// TryLock, when set, is a query of one parameter (a Job) that takes
	// that job's lock for the rest of the transaction if no other
	// transaction holds it, and returns whether it did. Without it every
	// lock is free: one collector writes the database.
	TryLock string
	// SkipLocked, when set, ends a SELECT whose rows the statement
	// around it claims: rows another transaction is claiming are passed
	// over instead of claimed twice.
	SkipLocked string
	// LockKeys, when set, is a query of one parameter, an array of
	// bigint keys, that takes each key's lock for the rest of the
	// transaction in the array's order, waiting for the transactions of
	// other nodes that hold one (see LockVisits).
	LockKeys string
	// Retryable, when set, reports whether err failed a transaction only
	// because it ran at the same time as another one (a serialization
	// failure, a deadlock): run again, it may well commit.
	Retryable func(err error) bool
}

// sqliteDialect is the store's own.
var sqliteDialect = Dialect{Name: "sqlite", TouchJSON: touchJSON}

// WithDialect runs the store on another engine's SQL.
func WithDialect(d Dialect) Option { return func(s *Store) { s.dialect = d } }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }
