package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
)

// The test binary's cluster: started lazily by the first test that asks
// for a database, stopped by Main after the last. A test binary is one
// process with one TestMain, so one cluster per binary is this package's
// whole purpose; nothing outside tests imports it.
var shared struct {
	once    sync.Once
	cluster *Cluster
	err     error
	inMain  bool
}

// Main runs the tests and then stops the cluster they used, if any.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main for a TestMain with more to clean up after the tests: it
// runs them, stops the cluster, and returns the exit code.
func Run(m *testing.M) int {
	shared.inMain = true
	code := m.Run()
	if shared.cluster != nil {
		if err := shared.cluster.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "pgtest: stop the cluster:", err)
		}
	}
	return code
}

// Shared returns the test binary's cluster, starting it the first time.
// It fails the test (never skips it) when PostgreSQL cannot start.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	if !shared.inMain {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main(m), which stops the cluster after the tests")
	}
	shared.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		shared.cluster, shared.err = Start(ctx)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cluster
}

// NewDatabase creates an empty database in the shared cluster, dropped
// when the test ends, and returns its postgres:// URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	c := Shared(t)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "t_" + hex.EncodeToString(b)
	admin, err := c.open("postgres")
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	ctx := context.Background()
	// FILE_COPY: copying template1's few files beats writing them all to
	// the WAL (the default) for an empty database.
	if _, err := admin.ExecContext(ctx, `CREATE DATABASE `+name+` STRATEGY FILE_COPY`); err != nil {
		t.Fatalf("pgtest: create database %s: %v\n%s", name, err, c.Log())
	}
	t.Cleanup(func() {
		admin, err := c.open("postgres")
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
			return
		}
		defer admin.Close()
		if _, err := admin.ExecContext(context.Background(), `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	return c.URL(name)
}

// open connects to database name as the superuser.
func (c *Cluster) open(name string) (*sql.DB, error) {
	db, err := sql.Open("pgx", c.URL(name))
	if err != nil {
		return nil, fmt.Errorf("pgtest: open %s: %w", name, err)
	}
	return db, nil
}

// Exec runs a statement on the database at url (as NewDatabase gives
// it), for tests that prepare what the collector must refuse (another
// application's tables, a role without rights).
func Exec(t testing.TB, url, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("pgtest: %s: %v", query, err)
	}
}
