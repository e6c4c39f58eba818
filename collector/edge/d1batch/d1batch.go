// Package d1batch gives the edge build one D1 round trip per request for
// its writes. It is a database/sql driver that wraps another (D1's on the
// Worker, SQLite in tests) and, inside a Unit (a request's context), holds
// back every ExecContext until Commit sends them all at once with a
// Batcher (D1's batch(): one round trip, one transaction). Queries run at
// once, after the writes queued before them, so that every statement sees
// what the ones before it wrote: the store's rules, written for D1's
// statement-at-a-time writes (compare-and-set in one statement, RETURNING
// for outcomes), hold unchanged, and the store and ingest code stay shared
// with the native collector.
//
// A held write has no outcome yet: its Result reports ErrDeferred for
// RowsAffected and LastInsertId. Use a Unit only around code that does
// not need them (the ingest path: InsertEvents then counts in SQL).
package d1batch

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync"
)

// Statement is one SQL statement and its arguments, as the driver got them
// (int64, float64, bool, []byte, string, nil or time.Time).
type Statement struct {
	Query string
	Args  []any
}

// Batcher runs statements in order, all or none of them (D1's batch()).
type Batcher func(ctx context.Context, stmts []Statement) error

// ErrDeferred is what a held write's Result reports: its outcome is known
// only after Commit.
var ErrDeferred = errors.New("d1batch: the write is held until the request's batch commits")

// Unit is one request's held writes.
type Unit struct {
	batch Batcher
	mu    sync.Mutex
	queue []Statement
	// flushes counts the batches sent (Commit and the flushes queries
	// forced), for tests and measurements.
	flushes int
	// err is the first failed batch's: it sticks, since the code whose
	// query forced the flush may not pass the error on (a read that falls
	// back to a default), and Commit must still report it.
	err error
}

type unitKey struct{}

// Begin returns a context whose writes (through a DB opened with Open) are
// held in the returned Unit until its Commit.
func Begin(ctx context.Context, batch Batcher) (context.Context, *Unit) {
	u := &Unit{batch: batch}
	return context.WithValue(ctx, unitKey{}, u), u
}

func unitOf(ctx context.Context) *Unit {
	u, _ := ctx.Value(unitKey{}).(*Unit)
	return u
}

// Pending returns how many writes are held.
func (u *Unit) Pending() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.queue)
}

// Batches returns how many batches the unit sent so far.
func (u *Unit) Batches() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.flushes
}

// Commit sends the held writes in one batch. On error none of them is
// stored, and none is held any more. Once a batch of the unit failed
// (here or in a query's flush), Commit and every later statement of the
// unit fail with its error.
func (u *Unit) Commit(ctx context.Context) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.flushLocked(ctx)
}

func (u *Unit) flushLocked(ctx context.Context) error {
	if u.err != nil || len(u.queue) == 0 {
		return u.err
	}
	q := u.queue
	u.queue = nil
	u.flushes++
	if err := u.batch(ctx, q); err != nil {
		u.err = fmt.Errorf("d1batch: batch of %d statements: %w", len(q), err)
	}
	return u.err
}

func (u *Unit) hold(query string, args []driver.NamedValue) error {
	vals := make([]any, len(args))
	for i, a := range args {
		if a.Name != "" {
			return fmt.Errorf("d1batch: named parameter %q: D1 takes only ?", a.Name)
		}
		vals[i] = a.Value
		if b, ok := a.Value.([]byte); ok {
			vals[i] = append([]byte(nil), b...) // the caller may reuse it
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return u.err
	}
	u.queue = append(u.queue, Statement{Query: query, Args: vals})
	return nil
}

// Connector wraps the connector of the database that runs the statements.
type Connector struct {
	inner driver.Connector
}

// NewConnector returns a connector for sql.OpenDB whose writes are held
// inside a Unit and run at once elsewhere.
func NewConnector(inner driver.Connector) *Connector { return &Connector{inner: inner} }

// Connect implements driver.Connector.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &wconn{inner: conn}, nil
}

// Driver implements driver.Connector.
func (c *Connector) Driver() driver.Driver { return c.inner.Driver() }

// wconn holds writes; everything else goes to the inner connection.
type wconn struct {
	inner driver.Conn
}

var (
	_ driver.ExecerContext      = (*wconn)(nil)
	_ driver.QueryerContext     = (*wconn)(nil)
	_ driver.ConnPrepareContext = (*wconn)(nil)
	_ driver.ConnBeginTx        = (*wconn)(nil)
)

func (c *wconn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext prepares on the inner connection. database/sql prepares
// only when the connection cannot exec or query directly, which this one
// can, or when the caller asks for a prepared statement: such a statement
// bypasses the Unit, so writes through it run at once.
func (c *wconn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if p, ok := c.inner.(driver.ConnPrepareContext); ok {
		return p.PrepareContext(ctx, query)
	}
	return c.inner.Prepare(query)
}

func (c *wconn) Close() error { return c.inner.Close() }

func (c *wconn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *wconn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if unitOf(ctx) != nil {
		return nil, errors.New("d1batch: no transactions inside a Unit: its batch is the transaction")
	}
	if b, ok := c.inner.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return c.inner.Begin() //nolint:staticcheck // the inner driver's only way
}

// ExecContext holds the write inside a Unit, else runs it.
func (c *wconn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if u := unitOf(ctx); u != nil {
		if err := u.hold(query, args); err != nil {
			return nil, err
		}
		return deferred{}, nil
	}
	if e, ok := c.inner.(driver.ExecerContext); ok {
		return e.ExecContext(ctx, query, args)
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if e, ok := st.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errors.New("d1batch: the inner driver cannot exec with a context")
}

// QueryContext first sends the writes held before it, so that it reads
// what they wrote.
func (c *wconn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if u := unitOf(ctx); u != nil {
		if err := u.Commit(ctx); err != nil {
			return nil, err
		}
	}
	if q, ok := c.inner.(driver.QueryerContext); ok {
		return q.QueryContext(ctx, query, args)
	}
	st, err := c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	q, ok := st.(driver.StmtQueryContext)
	if !ok {
		st.Close()
		return nil, errors.New("d1batch: the inner driver cannot query with a context")
	}
	rows, err := q.QueryContext(ctx, args)
	if err != nil {
		st.Close()
		return nil, err
	}
	return &stmtRows{Rows: rows, stmt: st}, nil
}

// stmtRows closes the statement a query was prepared for with its rows.
type stmtRows struct {
	driver.Rows
	stmt driver.Stmt
}

func (r *stmtRows) Close() error {
	err := r.Rows.Close()
	r.stmt.Close()
	return err
}

// deferred is a held write's result.
type deferred struct{}

func (deferred) LastInsertId() (int64, error) { return 0, ErrDeferred }
func (deferred) RowsAffected() (int64, error) { return 0, ErrDeferred }

// SQL returns a Batcher that runs the statements in one transaction of db:
// what D1's batch() does, for tests and native runs of the edge code.
func SQL(db *sql.DB) Batcher {
	return func(ctx context.Context, stmts []Statement) error {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i, s := range stmts {
			if _, err := tx.ExecContext(ctx, s.Query, s.Args...); err != nil {
				tx.Rollback()
				return fmt.Errorf("statement %d: %w", i, err)
			}
		}
		return tx.Commit()
	}
}
