package ingest_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// countLog counts the transactions a database began and the executions of
// the statements that add to visits' event counts: by visit id (one
// visit a statement) and by key (many visits a statement).
type countLog struct {
	begins, byID, byKey atomic.Int64
}

// countingConnector opens go-sqlite3 connections whose prepared statements
// and transactions report to log (sql.OpenDB: no driver to register).
type countingConnector struct {
	dsn string
	log *countLog
	drv *sqlite3.SQLiteDriver
}

func (c countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return countingConn{conn.(*sqlite3.SQLiteConn), c.log}, nil
}

func (c countingConnector) Driver() driver.Driver { return c.drv }

type countingConn struct {
	*sqlite3.SQLiteConn
	log *countLog
}

func (c countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.log.begins.Add(1)
	return c.SQLiteConn.BeginTx(ctx, opts)
}

func (c countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.SQLiteConn.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	var n *atomic.Int64
	switch {
	case strings.Contains(query, "event_count = event_count + ? WHERE visit_id = ?"):
		n = &c.log.byID
	case strings.Contains(query, "event_count = event_count + c.column2"):
		n = &c.log.byKey
	}
	return countingStmt{st.(*sqlite3.SQLiteStmt), n}, nil
}

type countingStmt struct {
	*sqlite3.SQLiteStmt
	n *atomic.Int64
}

func (s countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if s.n != nil {
		s.n.Add(1)
	}
	return s.SQLiteStmt.ExecContext(ctx, args)
}

// TestCommitCountsItsVisitsTogether: the writer adds a commit's new events
// to its visits' event counts by the visits' keys, at most 32 visits a
// statement, never with a statement per visit looked up by its id (what
// it did before: as many statements in each commit as it had visits). The
// counts stay exact.
func TestCommitCountsItsVisitsTogether(t *testing.T) {
	ctx := context.Background()
	log := &countLog{}
	db := sql.OpenDB(countingConnector{
		dsn: "file:" + filepath.Join(t.TempDir(), "counts.db") + "?_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate",
		log: log, drv: &sqlite3.SQLiteDriver{}})
	t.Cleanup(func() { db.Close() })
	st := store.New(db)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	in := ingesttest.Start(t, ingest.Config{Store: st, VisitTimeout: 30 * time.Minute})
	event := func(page string) json.RawMessage {
		b, _ := json.Marshal(protocol.Event{EventID: ulid.Make().String(), Name: "Click", PageID: page,
			Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"})
		return b
	}

	// 80 visits, each sending batches at once, so that commits carry
	// many visits (more than 32 in some).
	const visits, rounds = 80, 5
	clients := make([]ingest.Client, visits)
	pages := make([]string, visits)
	for i := range clients {
		pages[i] = ulid.Make().String()
		res, err := in.Collect(ctx, ingest.Client{}, "", []json.RawMessage{event(pages[i])})
		if err != nil {
			t.Fatal(err)
		}
		clients[i] = ingest.Client{VisitorID: res.Visit.VisitorID, VisitID: res.Visit.VisitID, VisitorKey: res.Visit.VisitorKey}
	}
	beginsBefore, byKeyBefore := log.begins.Load(), log.byKey.Load()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if _, err := in.Collect(ctx, clients[i], "", []json.RawMessage{event(pages[i]), event(pages[i])}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()

	if n := log.byID.Load(); n != 0 {
		t.Errorf("%d statements added to one visit's event count by its id; want none (by key, many visits a statement)", n)
	}
	commits, byKey := log.begins.Load()-beginsBefore, log.byKey.Load()-byKeyBefore
	// A commit of k visits runs ceil(k/32) statements: at most one more
	// than one a commit for every 32 of the visits' batches.
	if most := commits + visits*rounds/32; byKey > most || byKey == 0 {
		t.Errorf("%d statements added to event counts over %d commits of %d batches; want 1 to %d", byKey, commits, visits*rounds, most)
	}
	for i, c := range clients {
		v, err := st.FindVisit(ctx, c.VisitID)
		if err != nil {
			t.Fatal(err)
		}
		if want := 1 + 2*rounds; v.EventCount != want {
			t.Fatalf("visit %d: eventCount %d; want %d", i, v.EventCount, want)
		}
	}
}
