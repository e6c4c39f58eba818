package storetest

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
)

// Exec runs one statement on the store's database and fails the test on
// error.
func Exec(t testing.TB, s *store.Store, query string, args ...any) {
	t.Helper()
	if _, err := s.DB().ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// Count returns the number of rows of table that match where (all rows
// for "").
func Count(t testing.TB, s *store.Store, table, where string, args ...any) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if where != "" {
		q += " WHERE " + where
	}
	var n int
	if err := s.DB().QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// Tables returns every table that holds history, identity or visitor
// data: what an erasure must reach.
func Tables() []string {
	return []string{"visitors", "visits", "sessions", "pages", "events", "identities",
		"identity_visitors", "visit_identities", "visitor_data", "visit_metadata"}
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func nullMS(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMilli()
}

func nullStr(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

// InsertVisitor stores a visitor (browser).
func InsertVisitor(t testing.TB, s *store.Store, visitorID string, firstSeen time.Time) {
	t.Helper()
	Exec(t, s, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?, ?, ?)`,
		visitorID, ms(firstSeen), ms(firstSeen))
}

// InsertVisit stores a visit as given; PageCount and EventCount are
// ignored (they are computed on read).
func InsertVisit(t testing.TB, s *store.Store, v *collector.Visit) {
	t.Helper()
	state := v.State
	if state == "" {
		state = "anonymous"
	}
	Exec(t, s, `INSERT INTO visits (visit_id, visitor_id, identity_id, state, verified, session_id,
		started_at, last_seen_at, ended_at, landing_url, referrer, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.VisitID, v.VisitorID, nullStr(v.IdentityID), state, v.Verified, v.SessionID,
		ms(v.StartedAt), ms(v.LastSeenAt), nullMS(v.EndedAt), v.LandingURL, v.Referrer, v.UserAgent)
}

// InsertSession stores a session.
func InsertSession(t testing.TB, s *store.Store, x *collector.Session) {
	t.Helper()
	Exec(t, s, `INSERT INTO sessions (session_id, visit_id, identity_id, state, verified, started_at, ended_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		x.SessionID, x.VisitID, nullStr(x.IdentityID), x.State, x.Verified, ms(x.StartedAt), nullMS(x.EndedAt))
}

// InsertPage stores a page.
func InsertPage(t testing.TB, s *store.Store, p *collector.Page) {
	t.Helper()
	var d any
	if p.DurationMS != nil {
		d = *p.DurationMS
	}
	Exec(t, s, `INSERT INTO pages (page_id, visit_id, url, title, referrer, entered_at, exited_at, duration_ms)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.PageID, p.VisitID, p.URL, p.Title, p.Referrer, ms(p.EnteredAt), nullMS(p.ExitedAt), d)
}

// InsertEvent stores an event. Empty Data is stored as {}; a zero
// Timestamp or ReceivedAt is CorrectedAt.
func InsertEvent(t testing.TB, s *store.Store, e *collector.Event) {
	t.Helper()
	data := string(e.Data)
	if data == "" {
		data = "{}"
	}
	ts, received := e.Timestamp, e.ReceivedAt
	if ts.IsZero() {
		ts = e.CorrectedAt
	}
	if received.IsZero() {
		received = e.CorrectedAt
	}
	Exec(t, s, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, identity_id, page_id,
		name, category, timestamp, corrected_at, received_at, url, title, referrer, data, visit_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT visit_key FROM visits WHERE visit_id = ?))`,
		e.EventID, e.VisitID, e.VisitorID, e.SessionID, nullStr(e.IdentityID), e.PageID,
		e.Name, e.Category, ms(ts), ms(e.CorrectedAt), ms(received), e.URL, e.Title, e.Referrer, data, e.VisitID)
	// Ingest keeps the visit's count in the same commit.
	Exec(t, s, `UPDATE visits SET event_count = event_count + 1 WHERE visit_id = ?`, e.VisitID)
}

// InsertIdentity stores an identity and links it to its VisitorIDs.
func InsertIdentity(t testing.TB, s *store.Store, i *collector.Identity) {
	t.Helper()
	attrs := string(i.Attributes)
	if attrs == "" {
		attrs = "{}"
	}
	Exec(t, s, `INSERT INTO identities (identity_id, user_id, attributes, first_seen_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?)`, i.IdentityID, i.UserID, attrs, ms(i.FirstSeenAt), ms(i.LastSeenAt))
	for _, v := range i.VisitorIDs {
		Exec(t, s, `INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) VALUES (?, ?, ?)`,
			i.IdentityID, v, ms(i.FirstSeenAt))
	}
}

// LinkVisit links an identity to a visit (visit_identities).
func LinkVisit(t testing.TB, s *store.Store, visitID string, l *collector.VisitIdentity) {
	t.Helper()
	Exec(t, s, `INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at) VALUES (?, ?, ?, ?, ?)`,
		visitID, l.IdentityID, l.How, l.Verified, ms(l.LinkedAt))
}

// PutVisitorData stores a visitor-data document for a subject key such as
// "identity:01J…".
func PutVisitorData(t testing.TB, s *store.Store, subject, data string, at time.Time) {
	t.Helper()
	Exec(t, s, `INSERT INTO visitor_data (subject, version, data, updated_at) VALUES (?, 1, ?, ?)`, subject, data, ms(at))
}

// PutMetadata stores a visit's internal metadata.
func PutMetadata(t testing.TB, s *store.Store, visitID, data string, at time.Time) {
	t.Helper()
	Exec(t, s, `INSERT INTO visit_metadata (visit_id, version, data, updated_at) VALUES (?, 1, ?, ?)`, visitID, data, ms(at))
}

// Crash makes statements fail with "crash" at point, a trigger's timing
// and target such as "BEFORE INSERT ON events", as a process that dies
// there would stop; the returned function removes the trigger. SQLite
// and PostgreSQL write triggers differently.
func Crash(t testing.TB, s *store.Store, name, point string) func() {
	t.Helper()
	if s.Dialect().Name != "postgres" {
		Exec(t, s, `CREATE TRIGGER `+name+` `+point+` BEGIN SELECT RAISE(ABORT, 'crash'); END`)
		return func() { Exec(t, s, `DROP TRIGGER `+name) }
	}
	fields := strings.Fields(point)
	table := fields[len(fields)-1]
	Exec(t, s, `CREATE OR REPLACE FUNCTION `+name+`() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'crash'; END $$`)
	Exec(t, s, `CREATE TRIGGER `+name+` `+point+` FOR EACH ROW EXECUTE FUNCTION `+name+`()`)
	return func() { Exec(t, s, `DROP TRIGGER `+name+` ON `+table) }
}
