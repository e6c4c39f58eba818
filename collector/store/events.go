package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/visitrack/visitrack/collector"
)

// The events table on the write path: one row per eventId.

// EventRow is one row of the events table.
type EventRow struct {
	EventID string
	VisitID string
	// VisitKey is the visit's integer key (VisitState.Key), by which the
	// events index finds a visit's events. The edge, which creates visits
	// without reading their keys back, leaves it 0: its inserts read it.
	VisitKey    int64
	VisitorID   string
	SessionID   string
	IdentityID  string // "" stores NULL
	PageID      string
	Name        string
	Category    string
	Timestamp   int64
	CorrectedAt int64
	ReceivedAt  int64
	URL         string
	Title       string
	Referrer    string
	Data        string
	IP          string
}

// Event returns the row as a domain event.
func (r *EventRow) Event() *collector.Event {
	e := &collector.Event{
		EventID: r.EventID, VisitID: r.VisitID, VisitorID: r.VisitorID, SessionID: r.SessionID,
		PageID: r.PageID, Name: r.Name, Category: r.Category,
		Timestamp: fromMS(r.Timestamp), CorrectedAt: fromMS(r.CorrectedAt), ReceivedAt: fromMS(r.ReceivedAt),
		URL: r.URL, Title: r.Title, Referrer: r.Referrer, Data: json.RawMessage(r.Data),
	}
	if r.IdentityID != "" {
		id := r.IdentityID
		e.IdentityID = &id
	}
	return e
}

// eventColumns is the most bound parameters an events row takes: 17,
// and one more where the insert reads the visit's key (keyFromVisit).
const eventColumns = 18

// EventExists reports whether an event is stored already. Ingest asks only
// for identity events, whose side effects must not run twice, and for an
// answer to an offer that is no longer open (a resend is the same answer).
func (s *Store) EventExists(ctx context.Context, q Querier, eventID string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM events WHERE event_id = ?`, eventID).Scan(&n); err != nil {
		return false, fmt.Errorf("find event %s: %w", eventID, err)
	}
	return n > 0, nil
}

// keyFromVisit reports whether the event inserts read each row's
// visit_key from visits (by its visit_id, one more parameter) instead of
// binding EventRow.VisitKey: on D1, whose writes are held in a batch
// (package d1batch), so that reading a new visit's key back would cost a
// round trip of its own. Native writers know their visits' keys: ingest
// keeps them with the visit (VisitState.Key), and the hot insert reads
// nothing.
func (s *Store) keyFromVisit() bool { return !s.transactions }

// eventInsertSQL is the INSERT of n event rows (cached by n).
func (s *Store) eventInsertSQL(n int) string {
	if v, ok := s.insertSQL.Load(n); ok {
		return v.(string)
	}
	row := "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
	if s.keyFromVisit() {
		row = "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,(SELECT visit_key FROM visits WHERE visit_id = ?))"
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, identity_id, page_id, name, category,
		timestamp, corrected_at, received_at, url, title, referrer, data, ip, visit_key) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(" ON CONFLICT (event_id) DO NOTHING")
	s.insertSQL.Store(n, b.String())
	return b.String()
}

// InsertEvents stores rows with as few statements as the parameter limit
// allows. An event already stored is left as it is, so resending is
// harmless. args is scratch space the caller may reuse between calls. It
// returns how many rows were new.
func (s *Store) InsertEvents(ctx context.Context, q Querier, rows []EventRow, args []any) ([]any, int64, error) {
	var inserted int64
	for len(rows) > 0 {
		n := min(len(rows), s.maxRows)
		args = args[:0]
		query, err := "", error(nil)
		if runs := s.runsWorth(rows[:n]); runs > 0 {
			args, err = s.appendRunArgs(args, rows[:n], runs)
			query = s.runInsertSQL(n, runs)
		} else {
			query = s.eventInsertSQL(n)
			for i := range rows[:n] {
				if args, err = s.appendEventArgs(args, &rows[i]); err != nil {
					break
				}
			}
		}
		if err != nil {
			return args, inserted, err
		}
		res, err := s.execHot(ctx, q, query, args...)
		if err != nil {
			return args, inserted, fmt.Errorf("insert %d events: %w", n, err)
		}
		// A driver that cannot count (D1 answers it too) reports -1:
		// the caller then counts in SQL.
		if c, err := res.RowsAffected(); err == nil && inserted >= 0 {
			inserted += c
		} else {
			inserted = -1
		}
		rows = rows[n:]
	}
	return args, inserted, nil
}

// InsertEvent stores one event and reports whether it was new: ingest
// runs an identity event's side effects only the first time.
func (s *Store) InsertEvent(ctx context.Context, q Querier, r *EventRow) (bool, error) {
	args, err := s.appendEventArgs(make([]any, 0, eventColumns), r)
	if err != nil {
		return false, err
	}
	var id string
	err = q.QueryRowContext(ctx, s.eventInsertSQL(1)+" RETURNING event_id", args...).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert event %s: %w", r.EventID, err)
	}
	return true, nil
}

// appendEventArgs appends the bound parameters of r's row: its visit's
// key (see needVisitKey), or its visit id where the insert reads the key.
func (s *Store) appendEventArgs(args []any, r *EventRow) ([]any, error) {
	args = append(args, r.EventID, r.VisitID, r.VisitorID, r.SessionID, nullIfEmpty(r.IdentityID),
		r.PageID, r.Name, r.Category, r.Timestamp, r.CorrectedAt, r.ReceivedAt,
		r.URL, r.Title, r.Referrer, r.Data, r.IP)
	if s.keyFromVisit() {
		return append(args, r.VisitID), nil
	}
	if err := needVisitKey(r); err != nil {
		return args, err
	}
	return append(args, r.VisitKey), nil
}

// EventsHighWater returns the largest rowid of events: rows inserted after
// it, in the same transaction, are the ones CountEvents counts.
func (s *Store) EventsHighWater(ctx context.Context, q Querier) (int64, error) {
	const query = `SELECT coalesce(max(rowid), 0) FROM events`
	var hw int64
	stmt, err := s.preparedHot(ctx, q, query)
	if err == nil && stmt != nil {
		err = stmt.QueryRowContext(ctx).Scan(&hw)
	} else if err == nil {
		err = q.QueryRowContext(ctx, query).Scan(&hw)
	}
	if err != nil {
		return 0, fmt.Errorf("events high water: %w", err)
	}
	return hw, nil
}

// RowidsFollow reports whether the events a transaction inserts take the
// rowids right after the largest one, one after the other, none skipped
// and none taken by another writer in between: SQLite's rule for a table
// without AUTOINCREMENT, with its single writer. The high water before an
// insert is then the one after it less the rows it inserted, and ingest
// need not read it first. Not on PostgreSQL (a sequence, shared by the
// nodes, that a conflicting row consumes too) nor outside transactions
// (D1).
func (s *Store) RowidsFollow() bool { return s.transactions && s.dialect.OwnEvents == "" }
