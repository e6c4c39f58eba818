package postgres_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// openStore opens and migrates a store on the database at url, as one
// node does.
func openStore(t *testing.T, url string) *store.Store {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	s := postgres.NewStore(db)
	t.Cleanup(func() { s.Close(); db.Close() })
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

// holdJob takes job's lock in a transaction of s, as another node's
// writer does while it runs the job, until the returned func ends it.
func holdJob(t *testing.T, s *store.Store, job collector.Job) (release func()) {
	t.Helper()
	tx, err := s.DB().BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := s.TryJob(context.Background(), tx, job); err != nil || !ok {
		tx.Rollback()
		t.Fatalf("take the %s: %v, %v", job, ok, err)
	}
	return func() { tx.Rollback() }
}

// Retention and rollup trimming run on one node at a time: while another
// node's transaction holds a job, this node's step deletes nothing and
// waits for nothing; once it is free, the step does the work.
func TestRetentionAndTrimTakeTurns(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, b := openStore(t, url), openStore(t, url)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	signer, err := identity.NewSigner(make([]byte, 32), 0, clock)
	if err != nil {
		t.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: a, Signer: signer, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(context.Background())

	long := now.Add(-2 * 365 * 24 * time.Hour).UnixMilli()
	storetest.Exec(t, a, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES ('01JDVISITOR0000000000000001', 0, 0)`)
	storetest.Exec(t, a, `INSERT INTO visits (visit_id, visitor_id, session_id, started_at, last_seen_at, ended_at)
		VALUES ('01JDVISIT00000000000000001', '01JDVISITOR0000000000000001', '01JDSESSION0000000000000001', ?, ?, ?)`, long, long, long)
	storetest.Exec(t, a, `INSERT INTO stats_events (level, bucket, name, bot, n) VALUES (60000, ?, 'Old', 0, 1)`, long)

	ret, err := maintain.Retention(maintain.RetentionConfig{Store: a, Retention: 400 * 24 * time.Hour, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	trim, err := maintain.Rollups(maintain.RollupConfig{Store: a, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	steps := map[collector.Job]func(context.Context) (int, error){}
	for _, j := range []maintain.Job{ret, trim} {
		steps[j.Lock] = func(ctx context.Context) (int, error) {
			r, err := maintain.Start(ctx, maintain.Config{Writer: in, Store: a, Once: true}, j)
			if err != nil {
				return 0, err
			}
			return r.Did()[0], nil
		}
	}
	for job, step := range steps {
		release := holdJob(t, b, job)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		n, err := step(ctx)
		cancel()
		if err != nil || n != 0 {
			release()
			t.Fatalf("%s while another node runs it: %d deleted, %v; want a skipped round", job, n, err)
		}
		release()
		if n, err := step(context.Background()); err != nil || n != 1 {
			t.Fatalf("%s once free: %d deleted, %v; want the old row", job, n, err)
		}
	}
	// The lock is the transaction's: a node that dies mid-job frees it.
	tx, err := a.DB().BeginTx(context.Background(), &sql.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if ok, err := a.TryJob(context.Background(), tx, collector.JobSweep); err != nil || !ok {
		t.Fatalf("a free job: %v, %v", ok, err)
	}
}

// While another node sweeps, this node skips its sweeps: no visit is
// ended twice over, and none is left open once the other node is done.
func TestSweepSkipsWhileAnotherNodeSweeps(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nd := startNodes(t, url, 1, nil, "--visit-timeout", "200ms")[0]
	other := openStore(t, url)
	release := holdJob(t, other, collector.JobSweep)
	defer release()
	collect(t, nd, collectortest.Event("PageEntered", collectortest.NewID(), nil))
	db := openDB(t, url)
	open := func() int {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM visits WHERE ended_at IS NULL`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	time.Sleep(1500 * time.Millisecond) // several of the node's sweeps (every 50 ms)
	if n := open(); n != 1 {
		t.Fatalf("%d visits open while another node holds the sweep; want the visit left to it", n)
	}
	release()
	eventually(t, "the node to sweep once the other is done", func() bool { return open() == 0 })
}
