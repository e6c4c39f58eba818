// Package storetest gives tests a real store: a freshly migrated SQLite
// file in the test's temporary directory, closed when the test ends, and
// helpers that seed history rows with plain SQL (independent of the ingest
// path, so that read-side tests do not depend on it).
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/collector/store"
)

// New returns a migrated Store on a new SQLite file in t.TempDir(), or,
// when VISITRACK_TEST_DATABASE is "postgres", on a new PostgreSQL
// database (see NewPostgres): `make test` runs the store's tests both
// ways.
func New(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	if os.Getenv("VISITRACK_TEST_DATABASE") == "postgres" {
		return NewPostgres(t, opts...)
	}
	return NewSQLite(t, opts...)
}

// NewSQLite returns a migrated Store on a new SQLite file in t.TempDir().
func NewSQLite(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := store.New(db, opts...)
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}

// NewPostgres returns a migrated Store on a new database of the test
// binary's PostgreSQL cluster; the package's TestMain must run
// pgtest.Main.
func NewPostgres(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.NewStore(db, opts...)
	t.Cleanup(func() { s.Close(); db.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}
