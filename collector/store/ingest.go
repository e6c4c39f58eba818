package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/visitrack/visitrack/collector"
)

// The writes of the ingest path. Each method is one statement (or one
// multi-row statement), so it is atomic on its own on D1; the native
// collector runs many of them in one transaction per batch. They take the
// Querier to run on: the batch's transaction, or the database.

// VisitState is what ingest must know of a visit to file its events.
// Times are Unix milliseconds; EndedAt is 0 while the visit is open.
type VisitState struct {
	VisitID    string
	VisitorID  string
	IdentityID string // "" while anonymous
	SessionID  string
	State      string
	Verified   bool
	StartedAt  int64
	LastSeenAt int64
	EndedAt    int64
	// KeyHash is the hash of the visitor's browser key ("" for a visitor
	// stored before keys existed): ingest checks each request against it.
	KeyHash string
	// Bot is the visit's bot flag (enrichment), for the stats rollups.
	Bot bool
	// Cookieless visits are counted without ids (docs/identity.md#cookieless-visits).
	Cookieless bool
}

// VisitOrigin is what a new visit records about where it came from.
type VisitOrigin struct {
	URL       string
	Referrer  string
	UserAgent string
	IP        string
	Insight   VisitInsight
}

// VisitInsight is what enrichment learned about a new visit
// (docs/stats.md#what-the-collector-learns-about-a-visit). UTM and ClickIDs are JSON objects; the three UTM fields that stats
// break down by are also kept on their own.
type VisitInsight struct {
	Browser, BrowserVersion, OS, DeviceType string
	Bot                                     bool
	BotReason                               string
	ReferrerType                            string
	UTM, ClickIDs                           string
	UTMSource, UTMMedium, UTMCampaign       string
	Country, Region, City                   string
}

// EventRow is one row of the events table.
type EventRow struct {
	EventID     string
	VisitID     string
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

// eventColumns is the number of bound parameters per events row.
const eventColumns = 16

// PageRow records a page entered or exited. An exit may be stored before
// its entry (the beacon and the WebSocket race), so both are upserts.
type PageRow struct {
	PageID     string
	VisitID    string
	URL        string
	Title      string
	Referrer   string
	EnteredAt  int64
	ExitedAt   int64 // 0 for an entry
	DurationMS int64
	// Categories are the engagement categories the page matched, as a
	// JSON array of names; "" for none.
	Categories string
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// LoadVisit returns the visit, or nil when there is none.
func (s *Store) LoadVisit(ctx context.Context, q Querier, visitID string) (*VisitState, error) {
	v := &VisitState{VisitID: visitID}
	var identity, key sql.NullString
	var ended sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT v.visitor_id, v.identity_id, v.session_id, v.state, v.verified,
		v.started_at, v.last_seen_at, v.ended_at, r.key_hash, v.bot, v.cookieless FROM visits v
		LEFT JOIN visitors r ON r.visitor_id = v.visitor_id WHERE v.visit_id = ?`, visitID).
		Scan(&v.VisitorID, &identity, &v.SessionID, &v.State, &v.Verified, &v.StartedAt, &v.LastSeenAt, &ended, &key, &v.Bot, &v.Cookieless)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load visit %s: %w", visitID, err)
	}
	v.IdentityID, v.EndedAt, v.KeyHash = identity.String, ended.Int64, key.String
	return v, nil
}

// CreateVisit records a new visit, its visitor (created with v.KeyHash,
// or touched: a stored key is never replaced) and its first session, which
// starts in the visit's state.
func (s *Store) CreateVisit(ctx context.Context, q Querier, v *VisitState, o VisitOrigin) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at, key_hash) VALUES (?, ?, ?, ?)
		ON CONFLICT (visitor_id) DO UPDATE SET last_seen_at = max(visitors.last_seen_at, excluded.last_seen_at),
			key_hash = coalesce(visitors.key_hash, excluded.key_hash)`,
		v.VisitorID, v.StartedAt, v.StartedAt, nullIfEmpty(v.KeyHash)); err != nil {
		return fmt.Errorf("create visitor %s: %w", v.VisitorID, err)
	}
	in := &o.Insight
	v.Bot = in.Bot
	if in.UTM == "" {
		in.UTM = "{}"
	}
	if in.ClickIDs == "" {
		in.ClickIDs = "{}"
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO visits (visit_id, visitor_id, identity_id, state, verified, session_id,
		started_at, last_seen_at, landing_url, referrer, user_agent, ip,
		browser, browser_version, os, device_type, bot, bot_reason, referrer_type,
		utm, utm_source, utm_medium, utm_campaign, click_ids, country, region, city, reached, was_verified, cookieless)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		v.VisitID, v.VisitorID, nullIfEmpty(v.IdentityID), v.State, boolInt(v.Verified), v.SessionID,
		v.StartedAt, v.LastSeenAt, o.URL, o.Referrer, o.UserAgent, o.IP,
		in.Browser, in.BrowserVersion, in.OS, in.DeviceType, boolInt(in.Bot), in.BotReason, in.ReferrerType,
		in.UTM, in.UTMSource, in.UTMMedium, in.UTMCampaign, in.ClickIDs, in.Country, in.Region, in.City,
		v.State, boolInt(v.Verified), boolInt(v.Cookieless)); err != nil {
		return fmt.Errorf("create visit %s: %w", v.VisitID, err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO sessions (session_id, visit_id, identity_id, state, verified, started_at)
		VALUES (?, ?, ?, ?, ?, ?)`, v.SessionID, v.VisitID, nullIfEmpty(v.IdentityID), v.State, boolInt(v.Verified), v.StartedAt); err != nil {
		return fmt.Errorf("create session of visit %s: %w", v.VisitID, err)
	}
	return nil
}

// SwitchSession ends the visit's current session and opens next, with the
// identity, state and verification in next; v becomes next.
func (s *Store) SwitchSession(ctx context.Context, q Querier, v *VisitState, next VisitState, at int64) error {
	if _, err := q.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE session_id = ? AND ended_at IS NULL`,
		at, v.SessionID); err != nil {
		return fmt.Errorf("end session %s: %w", v.SessionID, err)
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO sessions (session_id, visit_id, identity_id, state, verified, started_at)
		VALUES (?, ?, ?, ?, ?, ?)`, next.SessionID, v.VisitID, nullIfEmpty(next.IdentityID), next.State, boolInt(next.Verified), at); err != nil {
		return fmt.Errorf("open session in visit %s: %w", v.VisitID, err)
	}
	// reached and was_verified only ever go up: the stats count the most
	// identified state a visit reached.
	if _, err := q.ExecContext(ctx, `UPDATE visits SET session_id = ?, identity_id = ?, state = ?, verified = ?,
		reached = CASE WHEN reached = 'authenticated' OR ? = 'authenticated' THEN 'authenticated'
			WHEN reached = 'recognized' OR ? = 'recognized' THEN 'recognized' ELSE reached END,
		was_verified = max(was_verified, ?) WHERE visit_id = ?`,
		next.SessionID, nullIfEmpty(next.IdentityID), next.State, boolInt(next.Verified),
		next.State, next.State, boolInt(next.Verified), v.VisitID); err != nil {
		return fmt.Errorf("update visit %s: %w", v.VisitID, err)
	}
	v.SessionID, v.IdentityID, v.State, v.Verified = next.SessionID, next.IdentityID, next.State, next.Verified
	return nil
}

// UpsertIdentity finds the identity of userID or creates it with newID,
// merging attrs (a JSON object) into its attributes. It returns the
// identity's id. A userID whose identity was merged into another resolves
// to that one (identity_aliases): the common case, no alias, is one
// statement, since the INSERT selects nothing when there is one.
func (s *Store) UpsertIdentity(ctx context.Context, q Querier, newID, userID, attrs string, at int64) (string, error) {
	if attrs == "" {
		attrs = "{}"
	}
	var id string
	err := q.QueryRowContext(ctx, `INSERT INTO identities (identity_id, user_id, attributes, first_seen_at, last_seen_at)
		SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM identity_aliases WHERE user_id = ?)
		ON CONFLICT (user_id) DO UPDATE SET attributes = json_patch(identities.attributes, excluded.attributes),
			last_seen_at = max(identities.last_seen_at, excluded.last_seen_at)
		RETURNING identity_id`, newID, userID, attrs, at, at, userID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = q.QueryRowContext(ctx, `UPDATE identities SET attributes = json_patch(attributes, ?),
			last_seen_at = max(last_seen_at, ?)
			WHERE identity_id = (SELECT identity_id FROM identity_aliases WHERE user_id = ?)
			RETURNING identity_id`, attrs, at, userID).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// The alias names an identity erased since: the userId starts
			// afresh.
			_, err = q.ExecContext(ctx, `DELETE FROM identity_aliases WHERE user_id = ?`, userID)
			if err == nil {
				return s.UpsertIdentity(ctx, q, newID, userID, attrs, at)
			}
		}
	}
	if err != nil {
		return "", fmt.Errorf("upsert identity: %w", err)
	}
	return id, nil
}

// LinkIdentity records how the identity is linked to the visit and, when
// the link is verified, that it used the visitor's browser. A verified link
// wins over an unverified one. An unverified claim links the visit alone:
// the browser becomes the identity's (its erasure, its visitor list) only
// by a proof (docs/security.md#proof).
func (s *Store) LinkIdentity(ctx context.Context, q Querier, v *VisitState, identityID, how string, verified bool, at int64) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at)
		VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (visit_id, identity_id) DO UPDATE SET
			how = CASE WHEN excluded.how = 'authenticated' THEN excluded.how ELSE visit_identities.how END,
			verified = max(visit_identities.verified, excluded.verified)`,
		v.VisitID, identityID, how, boolInt(verified), at); err != nil {
		return fmt.Errorf("link identity %s to visit %s: %w", identityID, v.VisitID, err)
	}
	if !verified {
		return nil
	}
	if _, err := q.ExecContext(ctx, `INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) VALUES (?, ?, ?)
		ON CONFLICT DO NOTHING`, identityID, v.VisitorID, at); err != nil {
		return fmt.Errorf("link identity %s to visitor %s: %w", identityID, v.VisitorID, err)
	}
	// Attribution: the first touch is the earliest visit of the first
	// browser proven to be the identity (its anonymous visits are
	// stitched), the last touch this visit.
	if _, err := q.ExecContext(ctx, s.linkTouchesSQL, v.VisitorID, v.VisitID, identityID); err != nil {
		return fmt.Errorf("touches of identity %s: %w", identityID, err)
	}
	return nil
}

// linkTouchesSQL sets an identity's touches; touch is the dialect's
// TouchJSON.
func linkTouchesSQL(touch string) string {
	return `UPDATE identities SET
		first_touch = coalesce(first_touch, (SELECT ` + touch + ` FROM visits t
			WHERE t.visitor_id = ? ORDER BY t.started_at, t.visit_id LIMIT 1)),
		last_touch = (SELECT ` + touch + ` FROM visits t WHERE t.visit_id = ?)
		WHERE identity_id = ?`
}

// touchJSON is a visit t as an identity's touch: {at, landingUrl,
// referrer, referrerType, utm}.
const touchJSON = `json_object('at', strftime('%Y-%m-%dT%H:%M:%fZ', t.started_at / 1000.0, 'unixepoch'),
	'landingUrl', t.landing_url, 'referrer', t.referrer, 'referrerType', t.referrer_type, 'utm', json(t.utm))`

// StitchVisits links the visitor's earlier visits that no identity claims
// yet to the identity, as "stitched": its anonymous history becomes part of
// the identity's.
func (s *Store) StitchVisits(ctx context.Context, q Querier, visitorID, identityID string, at int64) error {
	_, err := q.ExecContext(ctx, `INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at)
		SELECT v.visit_id, ?, 'stitched', 0, ? FROM visits v
		WHERE v.visitor_id = ? AND NOT EXISTS (SELECT 1 FROM visit_identities vi WHERE vi.visit_id = v.visit_id)
		ON CONFLICT DO NOTHING`, identityID, at, visitorID)
	if err != nil {
		return fmt.Errorf("stitch visits of %s: %w", visitorID, err)
	}
	return nil
}

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

// eventInsertSQL is the INSERT of n event rows (cached by n).
func (s *Store) eventInsertSQL(n int) string {
	if v, ok := s.insertSQL.Load(n); ok {
		return v.(string)
	}
	var b strings.Builder
	b.WriteString(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, identity_id, page_id, name, category,
		timestamp, corrected_at, received_at, url, title, referrer, data, ip) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
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
		for i := range rows[:n] {
			r := &rows[i]
			args = append(args, r.EventID, r.VisitID, r.VisitorID, r.SessionID, nullIfEmpty(r.IdentityID),
				r.PageID, r.Name, r.Category, r.Timestamp, r.CorrectedAt, r.ReceivedAt,
				r.URL, r.Title, r.Referrer, r.Data, r.IP)
		}
		res, err := s.execHot(ctx, q, s.eventInsertSQL(n), args...)
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

// UpsertPage records a page entry or exit. A page belongs to the visit
// that first used its pageId (docs/protocol.md#what-the-collector-accepts): when another visit owns
// it, nothing changes and UpsertPage reports false. The check is the
// upsert's own WHERE, so that one statement decides on D1 too.
func (s *Store) UpsertPage(ctx context.Context, q Querier, p *PageRow) (bool, error) {
	var row *sql.Row
	if p.ExitedAt == 0 {
		row = q.QueryRowContext(ctx, `INSERT INTO pages (page_id, visit_id, url, title, referrer, entered_at, categories)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (page_id) DO UPDATE SET url = excluded.url, title = excluded.title,
				referrer = excluded.referrer, entered_at = excluded.entered_at, categories = excluded.categories
			WHERE pages.visit_id = excluded.visit_id
			RETURNING page_id`,
			p.PageID, p.VisitID, p.URL, p.Title, p.Referrer, p.EnteredAt, nullIfEmpty(p.Categories))
	} else {
		row = q.QueryRowContext(ctx, `INSERT INTO pages (page_id, visit_id, url, title, referrer, entered_at, exited_at, duration_ms, categories)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (page_id) DO UPDATE SET exited_at = excluded.exited_at, duration_ms = excluded.duration_ms
			WHERE pages.visit_id = excluded.visit_id
			RETURNING page_id`,
			p.PageID, p.VisitID, p.URL, p.Title, p.Referrer, p.EnteredAt, p.ExitedAt, p.DurationMS, nullIfEmpty(p.Categories))
	}
	var id string
	err := row.Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record page %s: %w", p.PageID, err)
	}
	return true, nil
}

// TouchVisit moves the visit's last activity forward to at and adds
// events, the visit's events the same transaction stored and counted in Go
// (see CountEvents for those counted in SQL), to its event count.
func (s *Store) TouchVisit(ctx context.Context, q Querier, visitID string, at, events int64) error {
	if _, err := s.execHot(ctx, q, `UPDATE visits SET last_seen_at = max(last_seen_at, ?), event_count = event_count + ?
		WHERE visit_id = ?`, at, events, visitID); err != nil {
		return fmt.Errorf("touch visit %s: %w", visitID, err)
	}
	return nil
}

// CountVisitEvents adds events, the visit's events the same transaction
// stored and counted in Go, to its event count.
func (s *Store) CountVisitEvents(ctx context.Context, q Querier, visitID string, events int64) error {
	if _, err := s.execHot(ctx, q, `UPDATE visits SET event_count = event_count + ? WHERE visit_id = ?`, events, visitID); err != nil {
		return fmt.Errorf("count the events of visit %s: %w", visitID, err)
	}
	return nil
}

// LastActivity returns the visit's last activity: last_seen_at, or the
// latest event if ingest has not refreshed last_seen_at yet.
func (s *Store) LastActivity(ctx context.Context, q Querier, visitID string) (int64, error) {
	var at int64
	err := q.QueryRowContext(ctx, `SELECT max(v.last_seen_at, coalesce((SELECT max(corrected_at) FROM events e
		WHERE e.visit_id = v.visit_id), 0)) FROM visits v WHERE v.visit_id = ?`, visitID).Scan(&at)
	if err != nil {
		return 0, fmt.Errorf("last activity of visit %s: %w", visitID, err)
	}
	return at, nil
}

// IdleVisits returns up to limit open visits whose last_seen_at is before
// before. Callers confirm with LastActivity.
func (s *Store) IdleVisits(ctx context.Context, q Querier, before int64, limit int) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT visit_id FROM visits WHERE ended_at IS NULL AND last_seen_at < ?
		ORDER BY last_seen_at LIMIT ?`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("find idle visits: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("find idle visits: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// EndVisit closes the visit and its open session at endedAt, and reports
// whether this call closed it (false: it was closed already).
func (s *Store) EndVisit(ctx context.Context, q Querier, v *VisitState, endedAt int64) (bool, error) {
	// One statement decides: on D1 a cron sweep and a visitor's request may
	// end the same visit at once, and only one of them may record it.
	var id string
	err := q.QueryRowContext(ctx, `UPDATE visits SET ended_at = ?, last_seen_at = max(last_seen_at, ?)
		WHERE visit_id = ? AND ended_at IS NULL RETURNING visit_id`, endedAt, endedAt, v.VisitID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("end visit %s: %w", v.VisitID, err)
	}
	if _, err := q.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE visit_id = ? AND ended_at IS NULL`, endedAt, v.VisitID); err != nil {
		return false, fmt.Errorf("end sessions of visit %s: %w", v.VisitID, err)
	}
	v.EndedAt = endedAt
	return true, nil
}

// InsertEvent stores one event and reports whether it was new: ingest
// runs an identity event's side effects only the first time.
func (s *Store) InsertEvent(ctx context.Context, q Querier, r *EventRow) (bool, error) {
	var id string
	err := q.QueryRowContext(ctx, s.eventInsertSQL(1)+" RETURNING event_id",
		r.EventID, r.VisitID, r.VisitorID, r.SessionID, nullIfEmpty(r.IdentityID),
		r.PageID, r.Name, r.Category, r.Timestamp, r.CorrectedAt, r.ReceivedAt,
		r.URL, r.Title, r.Referrer, r.Data, r.IP).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("insert event %s: %w", r.EventID, err)
	}
	return true, nil
}

// OpenVisitOf returns the newest visit of visitorID that has not ended,
// or "" (a cookieless visitor's visit, found without any id from the
// browser).
func (s *Store) OpenVisitOf(ctx context.Context, q Querier, visitorID string) (string, error) {
	var id string
	err := q.QueryRowContext(ctx, `SELECT visit_id FROM visits WHERE visitor_id = ? AND ended_at IS NULL
		ORDER BY started_at DESC LIMIT 1`, visitorID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("open visit of %s: %w", visitorID, err)
	}
	return id, nil
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

// statsLevels are the bucket lengths of the stats rollups: a minute, an
// hour and a day, in milliseconds.
const statsLevels = `(SELECT 60000 AS size UNION ALL SELECT 3600000 UNION ALL SELECT 86400000)`

// StatsLevels returns the same lengths for callers that count in Go (an
// array: a copy, and no allocation).
func StatsLevels() [3]int64 { return [...]int64{60_000, 3_600_000, 86_400_000} }

// pageURL is the SQL for an event's URL without its query and fragment,
// the page of the page breakdown (PageURL in Go).
const pageURL = `CASE WHEN instr(e.url, '?') > 0 THEN substr(e.url, 1, instr(e.url, '?') - 1)
	WHEN instr(e.url, '#') > 0 THEN substr(e.url, 1, instr(e.url, '#') - 1) ELSE e.url END`

// PageURL is url without its query and fragment.
func PageURL(url string) string {
	if i := strings.IndexByte(url, '?'); i >= 0 {
		return url[:i]
	}
	if i := strings.IndexByte(url, '#'); i >= 0 {
		return url[:i]
	}
	return url
}

// CountEvents adds the events with a rowid in (after, upTo] (upTo 0: no
// bound) to the rollups that the stats read, with their visit's bot flag,
// and to their visits' event counts (rollup rows in their key's order, as
// AddStats adds them where nodes share the database, so that two nodes
// never deadlock on them). Run in the transaction that inserted
// them, it counts each stored event once: a resend inserts no row. Ingest
// counts in Go what it can (see AddStats) and calls this for the rest.
//
// only, when not nil, narrows the range to those event ids: on D1, without
// transactions, the rows of requests running at the same moment fall in
// the range too, and each request would count them again (a test saw 78
// events counted for 37 stored). A request counts only the ids it sent;
// the rowid bound still leaves out those a resend did not insert.
func (s *Store) CountEvents(ctx context.Context, q Querier, after, upTo int64, only []string) error {
	if upTo <= 0 {
		upTo = 1<<63 - 1
	}
	args := []any{after, upTo}
	cond := `e.rowid > ? AND e.rowid <= ?`
	if _, inTx := q.(*sql.Tx); inTx && s.dialect.OwnEvents != "" {
		cond += ` AND ` + s.dialect.OwnEvents
	}
	if only != nil {
		ids, err := json.Marshal(only)
		if err != nil {
			return fmt.Errorf("count events: %w", err)
		}
		cond += ` AND e.event_id IN (SELECT value FROM json_each(?))`
		args = append(args, string(ids))
	}
	if _, err := s.execHot(ctx, q, `INSERT INTO stats_events (level, bucket, name, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, e.name, coalesce(v.bot, 0), count(*)
		FROM events e LEFT JOIN visits v ON v.visit_id = e.visit_id, `+statsLevels+` l
		WHERE `+cond+` GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (level, bucket, name, bot) DO UPDATE SET n = stats_events.n + excluded.n`, args...); err != nil {
		return fmt.Errorf("count events: %w", err)
	}
	if _, err := s.execHot(ctx, q, `INSERT INTO stats_pages (level, bucket, url, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, `+pageURL+`, coalesce(v.bot, 0), count(*)
		FROM events e LEFT JOIN visits v ON v.visit_id = e.visit_id, `+statsLevels+` l
		WHERE `+cond+` AND e.name = 'PageEntered' GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
		ON CONFLICT (level, bucket, url, bot) DO UPDATE SET n = stats_pages.n + excluded.n`, args...); err != nil {
		return fmt.Errorf("count page views: %w", err)
	}
	if _, err := s.execHot(ctx, q, `UPDATE visits SET event_count = event_count + c.n
		FROM (SELECT e.visit_id, count(*) AS n FROM events e WHERE `+cond+` GROUP BY e.visit_id) AS c
		WHERE visits.visit_id = c.visit_id`, args...); err != nil {
		return fmt.Errorf("count the events of visits: %w", err)
	}
	return nil
}

// StatKey is one rollup row: the bucket (its start in Unix ms) of a level,
// an event name (stats_events) or a page URL (stats_pages), and the bot
// flag.
type StatKey struct {
	Level, Bucket int64
	Key           string
	Bot           bool
}

// statsChunk bounds the rows of one rollup statement, so that a handful
// of statement shapes are prepared once.
const statsChunk = 16

// AddStats adds counts to stats_events, or to stats_pages when pages.
func (s *Store) AddStats(ctx context.Context, q Querier, pages bool, counts map[StatKey]int64) error {
	table, col := "stats_events", "name"
	if pages {
		table, col = "stats_pages", "url"
	}
	args := make([]any, 0, 5*statsChunk)
	n := 0
	flush := func() error {
		if n == 0 {
			return nil
		}
		query := `INSERT INTO ` + table + ` (level, bucket, ` + col + `, bot, n) VALUES (?, ?, ?, ?, ?)` +
			strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1) +
			` ON CONFLICT (level, bucket, ` + col + `, bot) DO UPDATE SET n = ` + table + `.n + excluded.n`
		if _, err := s.execHot(ctx, q, query, args...); err != nil {
			return fmt.Errorf("add to %s: %w", table, err)
		}
		args, n = args[:0], 0
		return nil
	}
	add := func(k StatKey, c int64) error {
		args = append(args, k.Level, k.Bucket, k.Key, boolInt(k.Bot), c)
		if n++; n == statsChunk {
			return flush()
		}
		return nil
	}
	if s.dialect.Shared {
		// Other nodes add to the same rows at the same moment: rows
		// updated in one order by all never deadlock.
		for _, k := range slices.SortedFunc(maps.Keys(counts), compareStatKeys) {
			if err := add(k, counts[k]); err != nil {
				return err
			}
		}
		return flush()
	}
	for k, c := range counts {
		if err := add(k, c); err != nil {
			return err
		}
	}
	return flush()
}
