package d1batch_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector/edge/d1batch"
	"github.com/visitrack/visitrack/collector/sqlite"
)

// dsnConnector opens connections of a driver on a DSN.
type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// open returns a SQLite file twice: plain (to look at it and to run the
// batches) and through the holding driver.
func open(t *testing.T) (plain, held *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.db")
	plain, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	if _, err := plain.Exec(`CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	held = sql.OpenDB(d1batch.NewConnector(dsnConnector{plain.Driver(), "file:" + path + "?_busy_timeout=5000"}))
	t.Cleanup(func() { held.Close() })
	return plain, held
}

func count(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestHeldUntilCommit: inside a Unit, writes reach the database only at
// Commit, all in one batch; their results say they are deferred.
func TestHeldUntilCommit(t *testing.T) {
	plain, held := open(t)
	ctx, u := d1batch.Begin(context.Background(), d1batch.SQL(plain))
	for _, k := range []string{"a", "b", "c"} {
		res, err := held.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, int64(len(k)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := res.RowsAffected(); !errors.Is(err, d1batch.ErrDeferred) {
			t.Fatalf("RowsAffected of a held write: %v, want ErrDeferred", err)
		}
	}
	if n := count(t, plain); n != 0 {
		t.Fatalf("%d rows before Commit, want 0", n)
	}
	if u.Pending() != 3 {
		t.Fatalf("pending %d, want 3", u.Pending())
	}
	if err := u.Commit(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := count(t, plain); n != 3 || u.Batches() != 1 || u.Pending() != 0 {
		t.Fatalf("after Commit: %d rows, %d batches, %d pending; want 3, 1, 0", n, u.Batches(), u.Pending())
	}
}

// TestQueryReadsHeldWrites: a query inside a Unit goes at the end of the
// batch of the writes held before it, so a read-after-write (a
// compare-and-set's RETURNING) sees them in the same round trip; with
// nothing held it runs on its own.
func TestQueryReadsHeldWrites(t *testing.T) {
	plain, held := open(t)
	ctx, u := d1batch.Begin(context.Background(), d1batch.SQL(plain))
	if _, err := held.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ('a', 1)`); err != nil {
		t.Fatal(err)
	}
	var v int64
	err := held.QueryRowContext(ctx, `UPDATE t SET v = v + 1 WHERE k = 'a' AND v = 1 RETURNING v`).Scan(&v)
	if err != nil || v != 2 {
		t.Fatalf("compare-and-set after a held insert: v=%d err=%v, want 2", v, err)
	}
	if u.Batches() != 1 || u.Pending() != 0 {
		t.Fatalf("%d batches, %d pending; want 1, 0", u.Batches(), u.Pending())
	}
	var k string
	var n int64
	if err := held.QueryRowContext(ctx, `SELECT k, v FROM t`).Scan(&k, &n); err != nil || k != "a" || n != 2 {
		t.Fatalf("query with nothing held: %q %d %v", k, n, err)
	}
	if u.Batches() != 1 {
		t.Fatalf("a query with nothing held sent a batch")
	}
	if _, err := held.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ('b', 5)`); err != nil {
		t.Fatal(err)
	}
	rows, err := held.QueryContext(ctx, `SELECT k, v FROM t ORDER BY k`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s=%d", k, n))
	}
	if fmt.Sprint(got) != "[a=2 b=5]" || u.Batches() != 2 {
		t.Fatalf("rows %v after %d batches, want [a=2 b=5] after 2", got, u.Batches())
	}
}

// TestFailedBatchStoresNothing: a batch with a failing statement stores
// none of its writes, and Commit says so.
func TestFailedBatchStoresNothing(t *testing.T) {
	plain, held := open(t)
	if _, err := plain.Exec(`INSERT INTO t (k, v) VALUES ('dup', 0)`); err != nil {
		t.Fatal(err)
	}
	ctx, u := d1batch.Begin(context.Background(), d1batch.SQL(plain))
	for _, k := range []string{"x", "y", "dup"} {
		if _, err := held.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, 1)`, k); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Commit(context.Background()); err == nil {
		t.Fatal("Commit of a batch with a conflicting insert: want an error")
	}
	if n := count(t, plain); n != 1 {
		t.Fatalf("%d rows after a failed batch, want the 1 stored before", n)
	}
	if u.Pending() != 0 {
		t.Fatalf("%d writes still held after a failed Commit", u.Pending())
	}
}

// TestOutsideUnit: without a Unit every statement runs at once, and
// transactions are refused only inside one.
func TestOutsideUnit(t *testing.T) {
	plain, held := open(t)
	res, err := held.Exec(`INSERT INTO t (k, v) VALUES ('a', 1)`)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("RowsAffected outside a Unit: %d, %v", n, err)
	}
	if n := count(t, plain); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	ctx, _ := d1batch.Begin(context.Background(), d1batch.SQL(plain))
	if _, err := held.BeginTx(ctx, nil); err == nil {
		t.Fatal("BeginTx inside a Unit: want an error")
	}
}

// TestFailureSticks: a batch that a query's flush sent and that failed
// fails the query, every later statement and Commit, even when the code
// that ran the query swallowed its error.
func TestFailureSticks(t *testing.T) {
	plain, held := open(t)
	fail := errors.New("D1 is away")
	ctx, u := d1batch.Begin(context.Background(), func(context.Context, []d1batch.Statement) (*d1batch.Rows, error) { return nil, fail })
	if _, err := held.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ('a', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := held.QueryRowContext(ctx, `SELECT count(*) FROM t`).Scan(new(int)); !errors.Is(err, fail) {
		t.Fatalf("query after a held write whose batch fails: %v, want the batch's error", err)
	}
	if _, err := held.ExecContext(ctx, `INSERT INTO t (k, v) VALUES ('b', 1)`); !errors.Is(err, fail) {
		t.Fatalf("write after a failed batch: %v, want the batch's error", err)
	}
	if err := u.Commit(context.Background()); !errors.Is(err, fail) {
		t.Fatalf("Commit after a failed batch: %v, want the batch's error", err)
	}
	if n := count(t, plain); n != 0 {
		t.Fatalf("%d rows, want 0", n)
	}
}
