package store

import (
	"math/bits"
	"strconv"
	"strings"
)

// The event insert by runs of one visit: ingest's rows come a frame at a
// time, and a frame's events share their visit, visitor, session, identity,
// page, URL, IP and visit key. Binding those once per run instead of once
// per row spares most of what binding costs (a conversion, a cgo call and a
// copy by SQLite for each value), which is a large part of the single
// writer's time at saturation (docs/benchmarks-collect.md).
//
// The statement joins a VALUES list of the rows' own columns, each naming
// its run by number, with a VALUES list of the runs' columns. Its shape
// depends only on the rows and runs it has room for, rounded up (rows to a
// multiple of runRowsStep, runs to a power of two): padding rows name no
// run and insert nothing, padding runs are named by no row. So at most
// (64/8) × 6 statements are ever prepared, whatever the runs' lengths.
//
// Only the native SQLite writer takes it (runInserts): D1 allows 100 bound
// parameters a statement and reads each row's visit key in the insert, and
// PostgreSQL keeps the plain insert; both store the same rows.

// runColumns are the bound parameters of one run: visit_id, visitor_id,
// session_id, identity_id, page_id, url, ip, visit_key.
const runColumns = 8

// runRowColumns are the bound parameters of one row: its run's number,
// event_id, name, category, timestamp, corrected_at, received_at, title,
// referrer, data.
const runRowColumns = 10

// runRowsStep rounds a statement's rows up; the rows take this path only
// from one step on.
const runRowsStep = 8

// runShapes is the number of run counts (powers of two) a shape may have:
// 1 to 32, as a statement takes this path only with runs of two rows on
// average, and has at most 64 rows.
const runShapes = 6

// sameRun reports whether b continues a's run: every column a run binds
// once is equal.
func sameRun(a, b *EventRow) bool {
	return a.VisitKey == b.VisitKey && a.VisitID == b.VisitID && a.VisitorID == b.VisitorID &&
		a.SessionID == b.SessionID && a.IdentityID == b.IdentityID && a.PageID == b.PageID &&
		a.URL == b.URL && a.IP == b.IP
}

// runsWorth returns the number of runs in rows if the insert by runs is
// worth taking for them, or 0: not on D1 nor PostgreSQL (see above), not
// for fewer rows than a step, and not where runs average under two rows
// (the raw ceiling's rows, each of another visit, keep the plain insert).
func (s *Store) runsWorth(rows []EventRow) int {
	if !s.runInserts || len(rows) < runRowsStep || len(rows) > runRowsStep*8 {
		return 0
	}
	runs := 1
	for i := 1; i < len(rows); i++ {
		if !sameRun(&rows[i-1], &rows[i]) {
			runs++
		}
	}
	if runs*2 > len(rows) || runs > 1<<(runShapes-1) {
		return 0
	}
	return runs
}

// runShape returns the padded rows and runs of a statement for rows and
// runs, and its index among the cached statements.
func runShape(rows, runs int) (paddedRows, paddedRuns, index int) {
	steps := (rows + runRowsStep - 1) / runRowsStep
	shift := bits.Len(uint(runs - 1)) // runs rounded up to 1 << shift
	return steps * runRowsStep, 1 << shift, (steps-1)*runShapes + shift
}

// appendRunArgs appends the bound parameters of the insert by runs of rows
// (runs of them): each row's own columns with its run's number, nulls for
// the padding rows, then each run's columns and nulls for the padding runs.
func (s *Store) appendRunArgs(args []any, rows []EventRow, runs int) ([]any, error) {
	paddedRows, paddedRuns, _ := runShape(len(rows), runs)
	run := 0
	for i := range rows {
		r := &rows[i]
		if i > 0 && !sameRun(&rows[i-1], r) {
			run++
		}
		args = append(args, int64(run+1), r.EventID, r.Name, r.Category, r.Timestamp, r.CorrectedAt, r.ReceivedAt,
			r.Title, r.Referrer, r.Data)
	}
	for range (paddedRows - len(rows)) * runRowColumns {
		args = append(args, nil)
	}
	for i := range rows {
		r := &rows[i]
		if i > 0 && sameRun(&rows[i-1], r) {
			continue
		}
		if err := needVisitKey(r); err != nil {
			return args, err
		}
		args = append(args, r.VisitID, r.VisitorID, r.SessionID, nullIfEmpty(r.IdentityID), r.PageID,
			r.URL, r.IP, r.VisitKey)
	}
	for range (paddedRuns - runs) * runColumns {
		args = append(args, nil)
	}
	return args, nil
}

// runInsertSQL is the insert by runs for rows and runs (cached by shape).
// The rows' list is the outer loop (CROSS JOIN), so rows are inserted in
// their order, as the plain insert does; the WHERE clause also keeps
// SQLite's parser from reading ON CONFLICT as a join's ON.
func (s *Store) runInsertSQL(rows, runs int) string {
	paddedRows, paddedRuns, index := runShape(rows, runs)
	if v, ok := s.runSQL.Load(index); ok {
		return v.(string)
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, identity_id, page_id, name, category,
		timestamp, corrected_at, received_at, url, title, referrer, data, ip, visit_key)
	SELECT e.column2, r.column2, r.column3, r.column4, r.column5, r.column6, e.column3, e.column4,
		e.column5, e.column6, e.column7, r.column7, e.column8, e.column9, e.column10, r.column8, r.column9
	FROM (VALUES `)
	for i := 0; i < paddedRows; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?)")
	}
	b.WriteString(") AS e CROSS JOIN (VALUES ")
	for i := 0; i < paddedRuns; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString(",?,?,?,?,?,?,?,?)")
	}
	b.WriteString(") AS r WHERE r.column1 = e.column1 ON CONFLICT (event_id) DO NOTHING")
	s.runSQL.Store(index, b.String())
	return b.String()
}
