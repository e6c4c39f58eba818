package storetest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"testing"

	"github.com/mattn/go-sqlite3"

	"github.com/visitrack/visitrack/collector/store"
)

// NewD1Like returns a migrated Store on a SQLite file that refuses what D1
// refuses: BEGIN, COMMIT and SAVEPOINT. The store keeps to D1's other
// rules itself (WithoutTransactions, 100 bound parameters), as
// edge.OpenStore does. Tests of the edge's code paths (Direct mode) run on
// it natively.
func NewD1Like(t testing.TB) *store.Store {
	t.Helper()
	drv := &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		c.RegisterAuthorizer(func(op int, _, _, _ string) int {
			if op == sqlite3.SQLITE_TRANSACTION || op == sqlite3.SQLITE_SAVEPOINT {
				return sqlite3.SQLITE_DENY
			}
			return sqlite3.SQLITE_OK
		})
		return nil
	}}
	db := sql.OpenDB(connector{drv: drv, dsn: "file:" + filepath.Join(t.TempDir(), "edge.db") + "?_busy_timeout=5000"})
	t.Cleanup(func() { db.Close() })
	if _, err := db.Begin(); err == nil {
		t.Fatal("the D1-like database allowed BEGIN")
	}
	st := store.New(db, store.WithoutTransactions(), store.WithMaxParams(100))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// connector opens dsn with drv, without registering drv by a name for
// the whole process.
type connector struct {
	drv *sqlite3.SQLiteDriver
	dsn string
}

func (c connector) Connect(context.Context) (driver.Conn, error) { return c.drv.Open(c.dsn) }
func (c connector) Driver() driver.Driver                        { return c.drv }
