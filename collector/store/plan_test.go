package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// statementLog records the statements a store runs on its connections
// while on, with their arguments, so that a test can ask SQLite how it
// planned each one.
type statementLog struct {
	mu    sync.Mutex
	on    bool
	stmts []loggedStatement
}

type loggedStatement struct {
	query string
	args  []any
}

func (l *statementLog) add(query string, args []driver.NamedValue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.on {
		return
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	l.stmts = append(l.stmts, loggedStatement{query, vals})
}

// take stops recording and returns what was recorded.
func (l *statementLog) take() []loggedStatement {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.stmts
	l.stmts, l.on = nil, false
	return out
}

func (l *statementLog) start() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.on = true
}

// loggingConnector opens go-sqlite3 connections that report their
// statements to log (sql.OpenDB: no driver to register).
type loggingConnector struct {
	dsn string
	log *statementLog
	drv *sqlite3.SQLiteDriver
}

func (c loggingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return loggingConn{conn.(*sqlite3.SQLiteConn), c.log}, nil
}

func (c loggingConnector) Driver() driver.Driver { return c.drv }

type loggingConn struct {
	*sqlite3.SQLiteConn
	log *statementLog
}

func (c loggingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	c.log.add(query, args)
	return c.SQLiteConn.QueryContext(ctx, query, args)
}

func (c loggingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	c.log.add(query, args)
	return c.SQLiteConn.ExecContext(ctx, query, args)
}

// eventsAlias finds the names a statement gives the events table.
var eventsAlias = regexp.MustCompile(`\bevents(?:\s+(?:AS\s+)?([a-z])\b)?`)

// eventsNames returns the names under which a plan shows the events table
// of query, or nil when the query does not read it.
func eventsNames(query string) []string {
	var names []string
	for _, m := range eventsAlias.FindAllStringSubmatchIndex(query, -1) {
		if m[0] > 0 && (query[m[0]-1] == '_' || query[m[0]-1] == '.') {
			continue // stats_events, a column
		}
		if strings.HasPrefix(strings.TrimSpace(query[:m[0]]), "INSERT INTO") && !strings.Contains(query, "SELECT") {
			continue
		}
		names = append(names, "events")
		if m[2] >= 0 {
			names = append(names, query[m[2]:m[3]])
		}
	}
	return names
}

// seeksEvents reports whether a plan step reads events by a seek that
// walks only the rows it needs: the visit's key in events_visit, the
// rowid, or the event id (the primary key's index). A SCAN, an automatic
// index (built by scanning the table) or a SEARCH without an index read
// the whole table.
func seeksEvents(line string) bool {
	if !strings.HasPrefix(line, "SEARCH ") || strings.Contains(line, "AUTOMATIC") {
		return false
	}
	for _, by := range []string{"INDEX events_visit (visit_key=", "INTEGER PRIMARY KEY (rowid", "INDEX sqlite_autoindex_events_1 (event_id="} {
		if strings.Contains(line, by) {
			return true
		}
	}
	return false
}

// plan returns SQLite's query plan of a recorded statement, one line a
// step.
func plan(t *testing.T, db *sql.DB, st loggedStatement) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+st.query, st.args...)
	if err != nil {
		t.Fatalf("explain %s: %v", st.query, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestEventsReachedThroughTheIndex: every statement of the history,
// erasure, retention, stats, export, merge and engagement (replay, dry
// run) reads that
// reaches events through a visit finds them with the events_visit index
// (by the visit's integer key), never by scanning the table; and the
// main history query (a visit's events) seeks the index by key.
func TestEventsReachedThroughTheIndex(t *testing.T) {
	ctx := context.Background()
	log := &statementLog{}
	db := sql.OpenDB(loggingConnector{
		dsn: "file:" + filepath.Join(t.TempDir(), "plan.db") + "?_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate",
		log: log, drv: &sqlite3.SQLiteDriver{}})
	t.Cleanup(func() { db.Close() })
	s := store.New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	f := storetest.Seed(t, s)
	storetest.SeedBulk(t, s, f.T0, 50, 20)
	m := store.NewMerger(s, store.NewVisitorData(s))

	check := func(t *testing.T, name string, call func() error) []loggedStatement {
		t.Helper()
		log.start()
		err := call()
		stmts := log.take()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		reads := 0
		for _, st := range stmts {
			names := eventsNames(st.query)
			if len(names) == 0 {
				continue
			}
			reads++
			for _, line := range plan(t, db, st) {
				for _, n := range names {
					if !strings.HasPrefix(line, "SCAN "+n) && !strings.HasPrefix(line, "SEARCH "+n) {
						continue
					}
					if rest := strings.TrimPrefix(strings.TrimPrefix(line, "SCAN "), "SEARCH "); rest != n && !strings.HasPrefix(rest, n+" ") {
						continue // another table whose name starts the same
					}
					if !seeksEvents(line) {
						t.Errorf("%s reads events without a seek (%q):\n%s", name, line, st.query)
					}
				}
			}
		}
		if reads == 0 {
			t.Fatalf("%s read no events", name)
		}
		return stmts
	}

	stmts := check(t, "FindEvents by visit", func() error {
		_, _, err := s.FindEvents(ctx, collector.EventFilter{VisitID: f.V2})
		return err
	})
	seeks := false
	for _, st := range stmts {
		for _, line := range plan(t, db, st) {
			seeks = seeks || strings.Contains(line, "INDEX events_visit (visit_key=?")
		}
	}
	if !seeks {
		t.Errorf("the history of a visit does not seek events_visit by visit_key")
	}
	check(t, "FindEvents by identity", func() error {
		_, _, err := s.FindEvents(ctx, collector.EventFilter{IdentityID: f.Alice})
		return err
	})
	check(t, "FindEvents by page", func() error {
		_, _, err := s.FindEvents(ctx, collector.EventFilter{PageID: f.P1})
		return err
	})
	check(t, "FindVisits", func() error {
		_, _, err := s.FindVisits(ctx, collector.VisitFilter{})
		return err
	})
	check(t, "LastActivity", func() error {
		_, err := s.LastActivity(ctx, db, f.V1)
		return err
	})
	check(t, "EngageHistory", func() error {
		_, _, err := s.EngageHistory(ctx, f.V2, 0, f.T0.Add(24*time.Hour).UnixMilli(), 100)
		return err
	})
	check(t, "DryRunEvents", func() error {
		_, err := s.DryRunEvents(ctx, f.V1, 10, []string{"AddToCart"})
		return err
	})
	check(t, "Live", func() error {
		_, err := s.Live(ctx, f.T0, []string{f.V3}, 10)
		return err
	})
	check(t, "ExportSubject", func() error {
		return s.ExportSubject(ctx, collector.Subject{Kind: collector.SubjectIdentity, ID: f.Alice},
			func(collector.SubjectRecord) error { return nil })
	})
	var merged *collector.IdentityMerge
	check(t, "MergeIdentities", func() error {
		var err error
		merged, err = m.MergeIdentities(ctx, f.Alice, f.Bob, collector.MergeOptions{TokenID: "tok-plan"})
		return err
	})
	check(t, "UndoMerge", func() error {
		_, err := m.UndoMerge(ctx, merged.MergeID, collector.MergeOptions{TokenID: "tok-plan"})
		return err
	})
	check(t, "DeleteVisitor", func() error {
		return s.DeleteVisitor(ctx, f.VisitorB, collector.EraseOptions{})
	})
	check(t, "DeleteIdentity", func() error {
		return s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{})
	})
	storetest.Exec(t, s, `UPDATE visits SET ended_at = last_seen_at WHERE ended_at IS NULL`)
	check(t, "PurgeVisits", func() error {
		_, err := s.PurgeVisits(ctx, db, f.T0.Add(24*time.Hour), 10)
		return err
	})
}
