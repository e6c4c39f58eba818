package store

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/visitrack/visitrack/collector/sqlite"
)

// runTestStore opens a native SQLite store; runs says whether its inserts
// take the insert by runs.
func runTestStore(t *testing.T, name string, runs bool) *Store {
	t.Helper()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), name+".db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := New(db)
	t.Cleanup(func() { s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !s.runInserts {
		t.Fatal("the native SQLite store does not insert by runs")
	}
	s.runInserts = runs
	return s
}

// runTestRows makes n rows in runs of random lengths (1 to 12), each run
// differing from the one before in exactly one of the columns a run binds
// once (in turn), with some event ids repeated.
func runTestRows(rnd *rand.Rand, n int, tag string) []EventRow {
	rows := make([]EventRow, 0, n)
	base := EventRow{VisitID: tag + "v", VisitKey: 1, VisitorID: "p", SessionID: "s", PageID: "pg",
		URL: "https://shop.example/a", IP: "10.0.0.1"}
	for run := 0; len(rows) < n; run++ {
		x := fmt.Sprint(run)
		switch run % runColumns {
		case 0:
			base.VisitID = tag + "v" + x
		case 1:
			base.VisitorID = "p" + x
		case 2:
			base.SessionID = "s" + x
		case 3:
			if base.IdentityID == "" {
				base.IdentityID = "id" + x
			} else {
				base.IdentityID = ""
			}
		case 4:
			base.PageID = "pg" + x
		case 5:
			base.URL = "https://shop.example/" + x
		case 6:
			base.IP = "10.0.0." + x
		case 7:
			base.VisitKey = int64(run + 1)
		}
		for range min(1+rnd.IntN(12), n-len(rows)) {
			r := base
			i := len(rows)
			r.EventID = fmt.Sprintf("%s-e%05d", tag, i)
			if i > 0 && rnd.IntN(20) == 0 {
				r.EventID = rows[rnd.IntN(i)].EventID // a resend
			}
			r.Name, r.Category = fmt.Sprintf("n%d", i%4), "business"
			r.Timestamp, r.CorrectedAt, r.ReceivedAt = int64(1000+i), int64(2000+i), int64(3000+i)
			r.Title, r.Referrer, r.Data = fmt.Sprintf("t%d", i%3), "", fmt.Sprintf(`{"i":%d}`, i)
			rows = append(rows, r)
		}
	}
	return rows
}

// storedEvents returns every stored events row with its rowid, in rowid
// order.
func storedEvents(t *testing.T, s *Store) [][]any {
	t.Helper()
	rs, err := s.db.Query(`SELECT rowid, event_id, visit_id, visitor_id, session_id, identity_id, page_id, name, category,
		timestamp, corrected_at, received_at, url, title, referrer, data, ip, visit_key FROM events ORDER BY rowid`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var out [][]any
	for rs.Next() {
		row := make([]any, 18)
		ptrs := make([]any, len(row))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, row)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestInsertByRunsStoresTheSameRows: the insert by runs stores exactly the
// rows, rowids and counts of new rows the plain insert stores, for the
// same commits (resends within a commit and of an earlier one, runs split
// across statements, commits too short or of too short runs to take it).
func TestInsertByRunsStoresTheSameRows(t *testing.T) {
	ctx := context.Background()
	plain, byRuns := runTestStore(t, "plain", false), runTestStore(t, "runs", true)
	rnd := rand.New(rand.NewPCG(7, 9))
	var commits [][]EventRow
	for c, n := range []int{300, 5, 64, 65, 200, 9, 1000} {
		commits = append(commits, runTestRows(rnd, n, fmt.Sprintf("c%d", c)))
	}
	// A commit resending rows of the first, and one of a visit each row.
	commits = append(commits, append(append([]EventRow(nil), commits[0][100:180]...), runTestRows(rnd, 40, "c7")...))
	single := runTestRows(rnd, 100, "c8")
	for i := range single {
		single[i].VisitID, single[i].VisitKey = fmt.Sprintf("w%d", i), int64(1000+i)
	}
	commits = append(commits, single)
	for c, rows := range commits {
		var counts [2]int64
		for i, s := range []*Store{plain, byRuns} {
			tx, err := s.db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, counts[i], err = s.InsertEvents(ctx, tx, rows, nil); err != nil {
				t.Fatalf("commit %d: %v", c, err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if counts[0] != counts[1] {
			t.Fatalf("commit %d of %d rows: %d new rows by runs, %d plain", c, len(rows), counts[1], counts[0])
		}
	}
	want, got := storedEvents(t, plain), storedEvents(t, byRuns)
	if len(want) < 1500 || len(got) != len(want) {
		t.Fatalf("%d rows stored by runs, %d plain", len(got), len(want))
	}
	for i := range want {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("row %d by runs:\n%v\nplain:\n%v", i, got[i], want[i])
		}
	}
	n := 0
	byRuns.runSQL.Range(func(any, any) bool { n++; return true })
	if n == 0 {
		t.Fatal("no insert by runs ran")
	}
}

// TestInsertByRunsShapesBounded: whatever the runs' lengths, the insert by
// runs prepares at most one statement per shape, 8 × 6 in all.
func TestInsertByRunsShapesBounded(t *testing.T) {
	ctx := context.Background()
	s := runTestStore(t, "shapes", true)
	rnd := rand.New(rand.NewPCG(3, 4))
	for c := range 300 {
		rows := runTestRows(rnd, 1+rnd.IntN(200), fmt.Sprintf("c%d", c))
		tx, err := s.db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.InsertEvents(ctx, tx, rows, nil); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	shapes := 0
	s.runSQL.Range(func(any, any) bool { shapes++; return true })
	s.stmtMu.Lock()
	stmts := len(s.stmts)
	s.stmtMu.Unlock()
	if shapes < 10 || shapes > 8*runShapes || stmts > 8*runShapes+64 {
		t.Fatalf("%d shapes of the insert by runs, %d statements prepared; want 10 to %d shapes, at most %d statements",
			shapes, stmts, 8*runShapes, 8*runShapes+64)
	}
}
