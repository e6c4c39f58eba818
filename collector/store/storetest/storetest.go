// Package storetest gives tests a real store: a freshly migrated SQLite
// file in the test's temporary directory, closed when the test ends, and
// helpers that seed history rows with plain SQL (independent of the ingest
// path, so that read-side tests do not depend on it).
package storetest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/sqlite"
)

// New returns a migrated Store on a new SQLite file in t.TempDir().
func New(t testing.TB, opts ...store.Option) *store.Store {
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
