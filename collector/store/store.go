// Package store keeps Visitrack's data in SQLite through database/sql.
//
// It imports no driver: the native collector opens go-sqlite3 (package
// collector/sqlite) and the edge build opens Cloudflare D1. Every
// statement is a single statement that both run; D1 has no BEGIN/COMMIT, so
// no write relies on a transaction for correctness. The native collector
// still groups many writes into one transaction for speed (see Batch).
package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the embedded migration files, applied in name order.
// The edge build applies the same files with wrangler.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// Querier is what *sql.DB and *sql.Tx have in common: the store's writes run
// on either, so the native collector can batch them in a transaction and
// the edge build can run them one by one.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	db *sql.DB
	// Transactions is false on D1, which refuses BEGIN.
	transactions bool
	// maxRows bounds the rows of one multi-row INSERT; D1 allows only 100
	// bound parameters per statement.
	maxRows int
	now     func() time.Time
	purge   func(context.Context, *sql.DB) error // after erasures; see WithPurge

	// stmts holds the hot statements prepared once (by SQL text), for
	// reuse inside the writer's transactions.
	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt
	// insertSQL caches the multi-row event INSERT's text by row count.
	insertSQL sync.Map // int -> string
	// runInserts says whether InsertEvents binds a run of one visit's
	// values once (eventruns.go): the native SQLite writer only.
	runInserts bool
	// runSQL caches the insert by runs' text by shape (runShape).
	runSQL sync.Map // int -> string
	// countNewSQLs caches CountNewEvents' statement texts.
	countNewSQLs sync.Map // countNewKey -> string

	engine Engine // nil on D1

	dialect Dialect
	// linkTouchesSQL is LinkIdentity's statement in the dialect.
	linkTouchesSQL string
	// visitCountSQL are AddVisitEvents' statements, by shape.
	visitCountSQL [visitCountShapes]string
}

// Option configures a Store.
type Option func(*Store)

// WithoutTransactions makes every write a statement of its own, for D1.
func WithoutTransactions() Option { return func(s *Store) { s.transactions = false } }

// WithMaxParams bounds the parameters of one statement (D1: 100).
func WithMaxParams(n int) Option {
	return func(s *Store) { s.maxRows = max(1, n/eventColumns) }
}

// WithClock sets the clock, for tests.
func WithClock(now func() time.Time) Option { return func(s *Store) { s.now = now } }

// New returns a Store on db. It does not migrate; call Migrate.
func New(db *sql.DB, opts ...Option) *Store {
	s := &Store{db: db, transactions: true, maxRows: 64, now: time.Now, stmts: map[string]*sql.Stmt{}, dialect: SQLiteDialect()}
	for _, o := range opts {
		o(s)
	}
	s.runInserts = s.transactions && s.dialect.Name == "sqlite"
	s.linkTouchesSQL = linkTouchesSQL(s.dialect.TouchJSON)
	for i := range s.visitCountSQL {
		s.visitCountSQL[i] = visitCountSQL(1 << i)
	}
	return s
}

// execHot runs a statement the ingest path runs thousands of times a
// second. In a transaction it reuses a statement prepared once, which
// spares SQLite the parse and plan of every call; elsewhere (D1, which runs
// each call on its own) it is a plain ExecContext.
func (s *Store) execHot(ctx context.Context, q Querier, query string, args ...any) (sql.Result, error) {
	stmt, err := s.preparedHot(ctx, q, query)
	if err != nil {
		return nil, err
	}
	if stmt == nil {
		return q.ExecContext(ctx, query, args...)
	}
	return stmt.ExecContext(ctx, args...)
}

// preparedHot returns the statement for query prepared once, as the
// transaction's copy, or nil where statements are not kept (outside a
// transaction, D1). The copy is closed with the transaction; the prepared
// statement stays with its connection for the next one.
func (s *Store) preparedHot(ctx context.Context, q Querier, query string) (*sql.Stmt, error) {
	tx, ok := q.(*sql.Tx)
	if !ok || !s.transactions {
		return nil, nil
	}
	stmt, err := s.prepared(ctx, query)
	if err != nil {
		return nil, err
	}
	return tx.StmtContext(ctx, stmt), nil
}

// prepared returns the statement for query prepared once on the database
// (database/sql prepares it again on each connection it runs on, once).
func (s *Store) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	stmt := s.stmts[query]
	if stmt == nil {
		var err error
		if stmt, err = s.db.PrepareContext(ctx, query); err != nil {
			return nil, err
		}
		s.stmts[query] = stmt
	}
	return stmt, nil
}

// queryRowHot is a one-row read the ingest path runs for every request
// outside the writer's transactions (a browser's visitor data): it reuses a
// statement prepared once, which spares SQLite the parse and plan of every
// call. On D1 (no statements kept), or when the statement cannot be
// prepared, it is a plain QueryRowContext, which reports the error.
func (s *Store) queryRowHot(ctx context.Context, query string, args ...any) *sql.Row {
	if s.transactions {
		if stmt, err := s.prepared(ctx, query); err == nil {
			return stmt.QueryRowContext(ctx, args...)
		}
	}
	return s.db.QueryRowContext(ctx, query, args...)
}

// Close releases the prepared statements. It does not close the database.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	defer s.stmtMu.Unlock()
	for q, stmt := range s.stmts {
		stmt.Close()
		delete(s.stmts, q)
	}
	return nil
}

// DB returns the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// Migrate applies the embedded migrations that have not been applied yet,
// each recorded in schema_migrations.
func (s *Store) Migrate(ctx context.Context) error {
	if s.dialect.Migrate != nil {
		return s.dialect.Migrate(ctx, s.db, s.now)
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		var n int
		if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if n > 0 {
			continue
		}
		body, err := migrations.ReadFile(name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
		if err := s.inTx(ctx, func(q Querier) error {
			if _, err := q.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := q.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, base, s.now().UnixMilli())
			return err
		}); err != nil {
			return fmt.Errorf("migrate %s: %w", base, err)
		}
	}
	return nil
}

// inTx runs fn in a transaction where the database has them, else directly.
func (s *Store) inTx(ctx context.Context, fn func(Querier) error) error {
	if !s.transactions {
		return fn(s.db)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// ms converts a time to the stored Unix milliseconds.
func ms(t time.Time) int64 { return t.UnixMilli() }

// The stored times fromMS can return: 0000-01-01 to 9999-12-31 UTC, the
// years RFC 3339 (and encoding/json) can write.
const (
	minEncodableMS = -62167219200000
	maxEncodableMS = 253402300799999
)

// fromMS converts stored Unix milliseconds to a UTC time. Ingest keeps
// times near their receipt, but a row written before it did (or by hand)
// may hold any integer: such a time is clamped to the years RFC 3339 can
// write, so that one row cannot make a whole list fail to encode.
func fromMS(v int64) time.Time {
	return time.UnixMilli(min(max(v, minEncodableMS), maxEncodableMS)).UTC()
}

// fromNullMS converts a nullable column.
func fromNullMS(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}

// nullString converts a nullable id column.
func nullString(v sql.NullString) *string {
	if !v.Valid {
		return nil
	}
	s := v.String
	return &s
}
