package edge_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/d1batch"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/collector/store"
)

// freshWorker serves package edge natively on a migrated SQLite file opened
// with D1's restrictions (edge.OpenStore), building the collector anew for
// every request as a Worker does, with each /v1/collect's writes held and
// committed in one batch as on D1 (d1batch.SQL runs a batch in a
// transaction, as D1's batch() does). It returns the database, its store
// and the server's URL.
func freshWorker(t *testing.T, env map[string]string) (*sql.DB, *store.Store, string) {
	db, st, url, _ := freshWorkerSpy(t, env)
	return db, st, url
}

// batchSpy counts the batches the worker sends, and fails them on demand.
type batchSpy struct {
	next  d1batch.Batcher
	mu    sync.Mutex
	calls int
	fail  error
}

func (s *batchSpy) batch(ctx context.Context, stmts []d1batch.Statement) (*d1batch.Rows, error) {
	s.mu.Lock()
	s.calls++
	fail := s.fail
	s.mu.Unlock()
	if fail != nil {
		return nil, fail
	}
	return s.next(ctx, stmts)
}

func (s *batchSpy) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *batchSpy) failWith(err error) {
	s.mu.Lock()
	s.fail = err
	s.mu.Unlock()
}

// dsnConnector opens connections of a driver on a DSN.
type dsnConnector struct {
	d   driver.Driver
	dsn string
}

func (c dsnConnector) Connect(context.Context) (driver.Conn, error) { return c.d.Open(c.dsn) }
func (c dsnConnector) Driver() driver.Driver                        { return c.d }

// openD1 opens a new SQLite database twice, as the edge sees D1: plain,
// which answers a batch, and db, whose writes a d1batch.Connector holds
// back for it, on wrap's connector (nil: the plain one); db is migrated.
func openD1(t *testing.T, wrap func(dsnConnector) driver.Connector) (plain, db *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "edge.db")
	plain, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	var conn driver.Connector = dsnConnector{plain.Driver(), "file:" + path + "?_busy_timeout=5000"}
	if wrap != nil {
		conn = wrap(conn.(dsnConnector))
	}
	db = sql.OpenDB(d1batch.NewConnector(conn))
	t.Cleanup(func() { db.Close() })
	if err := edge.OpenStore(db).Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return plain, db
}

func freshWorkerSpy(t *testing.T, env map[string]string) (*sql.DB, *store.Store, string, *batchSpy) {
	t.Helper()
	plain, db := openD1(t, nil)
	st := edge.OpenStore(db)
	spy := &batchSpy{next: d1batch.SQL(plain)}
	logger := slog.New(slog.DiscardHandler)
	host := newSocketsHost(t, db, env) // ws_test.go
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/ws" && strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			host.ServeHTTP(w, r) // as glue/worker.mjs hands upgrades to the Durable Object
			return
		}
		h, err := edge.New(r.Context(), db, func(k string) string { return env[k] }, logger,
			edge.WithBatcher(spy.batch), edge.WithSockets(host.Announce, host.OpenVisits))
		if err != nil {
			edge.Unavailable(err).ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return db, st, srv.URL, spy
}
