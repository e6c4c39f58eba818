package store_test

import (
	"testing"

	"github.com/visitrack/visitrack/collector/postgres/pgtest"
)

// The store's tests run on SQLite, and on PostgreSQL when
// VISITRACK_TEST_DATABASE=postgres (mk/postgres.mk): pgtest.Main stops the
// cluster they used.
func TestMain(m *testing.M) { pgtest.Main(m) }
