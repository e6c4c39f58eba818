package pgtest_test

import (
	"context"
	"database/sql"
	"os"
	"strconv"
	"syscall"
	"testing"

	"github.com/visitrack/visitrack/collector/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// Each test gets its own empty database on a cluster that runs as an
// unprivileged user, on loopback.
func TestNewDatabase(t *testing.T) {
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if a == b {
		t.Fatalf("two tests share database %s", a)
	}
	pgtest.Exec(t, a, `CREATE TABLE only_in_a (x int)`)
	db, err := sql.Open("pgx", b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRowContext(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("a table made in one test's database is visible in another's")
	}
	var super bool
	var addr string
	if err := db.QueryRowContext(context.Background(),
		`SELECT current_setting('is_superuser') = 'on', host(inet_server_addr())`).Scan(&super, &addr); err != nil {
		t.Fatal(err)
	}
	if !super || addr != "127.0.0.1" {
		t.Fatalf("superuser %v on %s, want the superuser on 127.0.0.1", super, addr)
	}
	var dataDir string
	if err := db.QueryRowContext(context.Background(), `SELECT current_setting('data_directory')`).Scan(&dataDir); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; uid == 0 {
		t.Fatalf("the cluster's data directory %s belongs to root: PostgreSQL must run unprivileged", dataDir)
	}
}

// A wrong password is refused: the cluster checks passwords over TCP, so
// that the collector's own test of a wrong password is real.
func TestPasswordChecked(t *testing.T) {
	url := pgtest.NewDatabase(t)
	c := pgtest.Shared(t)
	bad := "postgres://" + pgtest.Superuser + ":wrong@127.0.0.1:" + strconv.Itoa(c.Port()) + "/postgres?sslmode=disable"
	db, err := sql.Open("pgx", bad)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(context.Background()); err == nil {
		t.Fatalf("a wrong password connected (the good URL is %s)", url)
	}
}
