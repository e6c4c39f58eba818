package edge_test

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/sqlite"
)

// freshWorker serves package edge natively on a migrated SQLite file opened
// with D1's restrictions (edge.OpenStore), building the collector anew for
// every request as a Worker does. It returns the database, its store and
// the server's URL.
func freshWorker(t *testing.T, env map[string]string) (*sql.DB, *store.Store, string) {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := edge.OpenStore(db)
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := edge.New(r.Context(), db, func(k string) string { return env[k] }, logger)
		if err != nil {
			edge.Unavailable(err).ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return db, st, srv.URL
}
