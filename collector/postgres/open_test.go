package postgres_test

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/store"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens and migrates the database at u, as a collector starts.
func open(ctx context.Context, u string) error {
	db, err := postgres.Open(ctx, u)
	if err != nil {
		return err
	}
	defer db.Close()
	s := postgres.NewStore(db)
	defer s.Close()
	return s.Migrate(ctx)
}

// Each way a database can be wrong stops the start with one message that
// names the fix, and never the password.
func TestOpenRefusals(t *testing.T) {
	ctx := context.Background()
	good := pgtest.NewDatabase(t)
	gu, err := url.Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	password, _ := gu.User.Password()
	with := func(change func(u *url.URL)) string {
		u := *gu
		change(&u)
		return u.String()
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	foreign := pgtest.NewDatabase(t)
	pgtest.Exec(t, foreign, `CREATE TABLE invoices (id int)`)
	otherMigrations := pgtest.NewDatabase(t)
	pgtest.Exec(t, otherMigrations, `CREATE TABLE schema_migrations (version bigint, dirty boolean)`)
	newer := pgtest.NewDatabase(t)
	if err := open(ctx, newer); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, newer, `INSERT INTO schema_migrations (name, applied_at) VALUES ('9999_from_the_future.sql', 0)`)

	for _, c := range []struct {
		name, url, want string
	}{
		{"not a URL", "mysql://root@localhost/visitrack", "want a postgres://"},
		{"bad URL", "postgres://user:pw@127.0.0.1:notaport/db", "not a valid PostgreSQL URL"},
		{"unreachable", with(func(u *url.URL) { u.Host = fmt.Sprintf("127.0.0.1:%d", closedPort) }), "cannot reach PostgreSQL at 127.0.0.1:"},
		{"wrong password", with(func(u *url.URL) { u.User = url.UserPassword(pgtest.Superuser, "not-the-password") }), "refused the credentials"},
		{"no such database", with(func(u *url.URL) { u.Path = "/no_such_db" }), "has no such database"},
		{"another application's tables", foreign, "holds tables that are not the collector's (invoices)"},
		{"another application's migrations", otherMigrations, "holds tables that are not the collector's (schema_migrations (columns dirty, version))"},
		{"a newer schema", newer, "schema is newer than this collector: migration 9999_from_the_future.sql"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			err := open(ctx, c.url)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("open: %v, want an error with %q", err, c.want)
			}
			if strings.Contains(err.Error(), password) || strings.Contains(err.Error(), "not-the-password") {
				t.Fatalf("the error shows a password: %v", err)
			}
			if strings.Count(err.Error(), "\n") > 0 {
				t.Fatalf("the error is more than one line: %q", err)
			}
		})
	}
	// The foreign database was left as it was.
	if err := open(ctx, foreign); err == nil {
		t.Fatal("the second start on another application's database succeeded")
	}
}

// Nodes that start at the same moment on a fresh database all start; the
// migrations run once (a second run of one would fail on its
// schema_migrations row, or on a table that exists).
func TestConcurrentMigrations(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	const nodes = 8
	var wg sync.WaitGroup
	errs := make([]error, nodes)
	start := make(chan struct{})
	for i := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = open(ctx, u)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: %v", i, err)
		}
	}
	db, err := postgres.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, distinct int
	if err := db.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT name) FROM schema_migrations`).Scan(&n, &distinct); err != nil {
		t.Fatal(err)
	}
	files, _ := postgresMigrations()
	if n != len(files) || distinct != n {
		t.Fatalf("schema_migrations has %d rows (%d distinct), want one per migration (%d)", n, distinct, len(files))
	}
}

func postgresMigrations() ([]string, error) { return fs.Glob(postgres.Migrations(), "*.sql") }

// Every SQLite migration has its PostgreSQL copy of the same name, and no
// more: a schema version means the same tables on both engines.
func TestMigrationsNumberedAlike(t *testing.T) {
	lite, err := fs.Glob(store.Migrations(), "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	pg, err := postgresMigrations()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lite, pg) {
		t.Fatalf("migrations differ:\nSQLite     %v\nPostgreSQL %v", lite, pg)
	}
}
