package store

import (
	"context"
	"database/sql"
	"time"
)

// The engines that run the store's SQL, and what differs between them, in
// one place (docs/architecture.md#engines). The SQL is written once, in
// SQLite's dialect; each engine has its own package, the one place its
// driver is imported: collector/sqlite (go-sqlite3, the native default),
// collector/edge (Cloudflare D1, which speaks SQLite) and collector/postgres
// (pgx). What cannot be written alike is a field of Dialect, a store Option,
// an Engine, or a difference the engine's package absorbs below the store:
//
//	difference     SQLite                       D1                           PostgreSQL
//	-------------  ---------------------------  ---------------------------  --------------------------------------------
//	parameters     ?                            ?                            $1, $2, …: the connection rebinds each ?,
//	                                                                         and IS ? to IS NOT DISTINCT FROM
//	                                                                         (postgres/rebind.go)
//	functions      its own                      SQLite's                     max/min of two values, instr, json,
//	                                                                         json_valid, json_extract, json_each,
//	                                                                         json_patch, group_concat: created by its
//	                                                                         first migration
//	JSON built     json_object, strftime        the same                     json_build_object, to_char (TouchJSON)
//	transactions   one writer, group commit     none: each statement alone   READ COMMITTED, one writer per node
//	                                            (WithoutTransactions)
//	bound params   64 event rows per INSERT     100 per statement            64 event rows per INSERT
//	                                            (WithMaxParams)
//	own rows       the rowid range of the       the same                     xmin is the transaction's (OwnEvents)
//	               commit (one writer)
//	locking        none: one collector          none                         advisory transaction locks: a job's
//	                                                                         (TryLock), a visit's (LockKeys); webhook
//	                                                                         deliveries claimed FOR UPDATE SKIP LOCKED
//	                                                                         (SkipLocked); retried on a serialization
//	                                                                         failure or deadlock (Retryable)
//	upserts        ON CONFLICT … DO NOTHING /   the same                     the same; rollup rows are added to in one
//	               DO UPDATE … excluded.                                     order by every node (Shared)
//	partitions     one events table             one events table             events by month of event_id, made and
//	                                                                         dropped by a job (postgres/partitions.go)
//	migrations     store/migrations, embedded   the same files, applied by   postgres/migrations, numbered alike, under
//	                                            wrangler                     an advisory lock (Migrate)
//	full storage   SQLITE_FULL, ENOSPC          D1's size limit: an error    SQLSTATE 53100, 53200 (Engine)
//	               (Engine)                     like any other
//	its log        WAL bounded by the writer    Cloudflare's                 the server's checkpoints
//	               (Engine.AfterCommit)
//
// The rest the statements use (RETURNING, coalesce, CASE, LIMIT, …) both
// engines say alike.

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

// SQLiteDialect is the store's own, which D1 speaks too: the default of
// New.
func SQLiteDialect() Dialect { return Dialect{Name: "sqlite", TouchJSON: touchJSON} }

// PostgresDialect is PostgreSQL's, without what needs its driver: package
// postgres adds Migrate and Retryable (postgres.Dialect), and is the one
// to pass to WithDialect.
func PostgresDialect() Dialect {
	return Dialect{
		Name: "postgres",
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
		LockKeys: `SELECT count(pg_advisory_xact_lock(k)) FROM unnest(CAST(? AS bigint[])) AS t(k)`,
	}
}

// WithDialect runs the store on another engine's SQL.
func WithDialect(d Dialect) Option { return func(s *Store) { s.dialect = d } }

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }
