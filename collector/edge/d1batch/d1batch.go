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
// A query that comes while writes are held goes at the end of their batch,
// and its rows come back from it: still one round trip.
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
	"io"
	"sync"
)

// Statement is one SQL statement and its arguments, as the driver got them
// (int64, float64, bool, []byte, string, nil or time.Time).
type Statement struct {
	Query string
	Args  []any
	// Rows asks for the statement's rows (only the last of a batch).
	Rows bool
}

// Rows is what a statement returned: its columns in order and its rows,
// with the values a driver returns (int64, float64, string, []byte, nil).
type Rows struct {
	Columns []string
	Values  [][]any
}

// Batcher runs statements in order, all or none of them (D1's batch()),
// and returns the rows of the last one when it asks for them.
type Batcher func(ctx context.Context, stmts []Statement) (*Rows, error)

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
	_, err := u.flush(ctx, nil)
	return err
}

// flush sends the held writes, and query after them when it is not nil.
// It returns query's rows, or nil when no write was held (the caller then
// runs query itself).
func (u *Unit) flush(ctx context.Context, query *Statement) (*Rows, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil || len(u.queue) == 0 {
		return nil, u.err
	}
	q := u.queue
	u.queue = nil
	if query != nil {
		q = append(q, *query)
	}
	u.flushes++
	rows, err := u.batch(ctx, q)
	if err != nil {
		u.err = fmt.Errorf("d1batch: batch of %d statements: %w", len(q), err)
		return nil, u.err
	}
	if query != nil && rows == nil {
		u.err = errors.New("d1batch: the batch returned no rows for its query")
		return nil, u.err
	}
	return rows, nil
}

// statement copies a statement and its arguments.
func statement(query string, args []driver.NamedValue) (Statement, error) {
	vals := make([]any, len(args))
	for i, a := range args {
		if a.Name != "" {
			return Statement{}, fmt.Errorf("d1batch: named parameter %q: D1 takes only ?", a.Name)
		}
		vals[i] = a.Value
		if b, ok := a.Value.([]byte); ok {
			vals[i] = append([]byte(nil), b...) // the caller may reuse it
		}
	}
	return Statement{Query: query, Args: vals}, nil
}

func (u *Unit) hold(query string, args []driver.NamedValue) error {
	st, err := statement(query, args)
	if err != nil {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.err != nil {
		return u.err
	}
	u.queue = append(u.queue, st)
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
	//lint:ignore SA1019 Begin is the inner driver's only way when it lacks BeginTx
	return c.inner.Begin()
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

// QueryContext runs after the writes held before it, in their batch, so
// that it reads what they wrote.
func (c *wconn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if u := unitOf(ctx); u != nil {
		st, err := statement(query, args)
		if err != nil {
			return nil, err
		}
		st.Rows = true
		rows, err := u.flush(ctx, &st)
		if err != nil {
			return nil, err
		}
		if rows != nil {
			return &heldRows{r: rows}, nil
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

// heldRows are the rows a batch returned.
type heldRows struct {
	r *Rows
	i int
}

func (r *heldRows) Columns() []string { return r.r.Columns }
func (r *heldRows) Close() error      { return nil }

func (r *heldRows) Next(dest []driver.Value) error {
	if r.i >= len(r.r.Values) {
		return io.EOF
	}
	row := r.r.Values[r.i]
	if len(row) != len(dest) {
		return fmt.Errorf("d1batch: a row of %d values for %d columns", len(row), len(dest))
	}
	for j, v := range row {
		dest[j] = v
	}
	r.i++
	return nil
}

// deferred is a held write's result.
type deferred struct{}

func (deferred) LastInsertId() (int64, error) { return 0, ErrDeferred }
func (deferred) RowsAffected() (int64, error) { return 0, ErrDeferred }

// SQL returns a Batcher that runs the statements in one transaction of db:
// what D1's batch() does, for tests and native runs of the edge code.
func SQL(db *sql.DB) Batcher {
	return func(ctx context.Context, stmts []Statement) (*Rows, error) {
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		defer tx.Rollback()
		var out *Rows
		for i, s := range stmts {
			if !s.Rows || i < len(stmts)-1 {
				if _, err := tx.ExecContext(ctx, s.Query, s.Args...); err != nil {
					return nil, fmt.Errorf("statement %d: %w", i, err)
				}
				continue
			}
			if out, err = queryAll(ctx, tx, s); err != nil {
				return nil, fmt.Errorf("statement %d: %w", i, err)
			}
		}
		return out, tx.Commit()
	}
}

func queryAll(ctx context.Context, tx *sql.Tx, s Statement) (*Rows, error) {
	rows, err := tx.QueryContext(ctx, s.Query, s.Args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := &Rows{}
	if out.Columns, err = rows.Columns(); err != nil {
		return nil, err
	}
	for rows.Next() {
		vals := make([]any, len(out.Columns))
		ptrs := make([]any, len(vals))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		out.Values = append(out.Values, vals)
	}
	return out, rows.Err()
}
