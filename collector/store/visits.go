package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// The visit's rows on the write path: its state, its sessions, its last
// activity and its end.

// VisitState is what ingest must know of a visit to file its events.
// Times are Unix milliseconds; EndedAt is 0 while the visit is open.
type VisitState struct {
	VisitID string
	// Key is the visit's integer key, which its events carry (EventRow.VisitKey):
	// set by LoadVisit and CreateVisit; CreateVisit on D1 leaves it 0.
	Key        int64
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

// LoadVisit returns the visit, or nil when there is none.
func (s *Store) LoadVisit(ctx context.Context, q Querier, visitID string) (*VisitState, error) {
	v := &VisitState{VisitID: visitID}
	var identity, key sql.NullString
	var ended sql.NullInt64
	err := q.QueryRowContext(ctx, `SELECT v.visit_key, v.visitor_id, v.identity_id, v.session_id, v.state, v.verified,
		v.started_at, v.last_seen_at, v.ended_at, r.key_hash, v.bot, v.cookieless FROM visits v
		LEFT JOIN visitors r ON r.visitor_id = v.visitor_id WHERE v.visit_id = ?`, visitID).
		Scan(&v.Key, &v.VisitorID, &identity, &v.SessionID, &v.State, &v.Verified, &v.StartedAt, &v.LastSeenAt, &ended, &key, &v.Bot, &v.Cookieless)
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
// starts in the visit's state. It sets v.Key, the key the database gave
// the visit, except on D1, whose inserts read it (keyFromVisit).
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
	const insert = `INSERT INTO visits (visit_id, visitor_id, identity_id, state, verified, session_id,
		started_at, last_seen_at, landing_url, referrer, user_agent, ip,
		browser, browser_version, os, device_type, bot, bot_reason, referrer_type,
		utm, utm_source, utm_medium, utm_campaign, click_ids, country, region, city, reached, was_verified, cookieless)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	args := []any{v.VisitID, v.VisitorID, nullIfEmpty(v.IdentityID), v.State, boolInt(v.Verified), v.SessionID,
		v.StartedAt, v.LastSeenAt, o.URL, o.Referrer, o.UserAgent, o.IP,
		in.Browser, in.BrowserVersion, in.OS, in.DeviceType, boolInt(in.Bot), in.BotReason, in.ReferrerType,
		in.UTM, in.UTMSource, in.UTMMedium, in.UTMCampaign, in.ClickIDs, in.Country, in.Region, in.City,
		v.State, boolInt(v.Verified), boolInt(v.Cookieless)}
	var err error
	if s.keyFromVisit() {
		v.Key = 0
		_, err = q.ExecContext(ctx, insert, args...)
	} else {
		err = q.QueryRowContext(ctx, insert+` RETURNING visit_key`, args...).Scan(&v.Key)
	}
	if err != nil {
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

// VisitCount is a number of new events of one visit, named by its key
// (VisitState.Key).
type VisitCount struct{ Key, N int64 }

// visitCountShapes are the row counts of AddVisitEvents' statement, each
// twice the one before: a commit's counts are padded up to the next, so
// that a few statements are prepared once. The largest binds 64 parameters,
// within D1's 100.
const visitCountShapes = 6

// visitCountSQL is the statement that adds n counts (n = 1 << shape).
func visitCountSQL(n int) string {
	// The casts give PostgreSQL the VALUES' types (a parameter alone is
	// text there); SQLite names the columns column1 and column2 too.
	return `UPDATE visits SET event_count = event_count + c.column2 FROM (VALUES ` +
		strings.Repeat(`(CAST(? AS BIGINT), CAST(? AS BIGINT)), `, n-1) + `(CAST(? AS BIGINT), CAST(? AS BIGINT))) AS c
		WHERE visits.visit_key = c.column1`
}

// AddVisitEvents adds counts to their visits' event counts, up to 32
// visits a statement, found by their key (the table's rowid): the writer
// used to run one UPDATE by visit id for each visit of a commit, as many
// statements as the commit had visits, each looking the id up in its
// index first. counts is sorted in place by key (nodes sharing a database
// update rows in one order, and SQLite walks the table once); a count of
// key 0 (a visit whose key is not known) is refused. args is scratch
// space the caller may reuse.
func (s *Store) AddVisitEvents(ctx context.Context, q Querier, counts []VisitCount, args []any) ([]any, error) {
	slices.SortFunc(counts, func(a, b VisitCount) int { return cmp.Compare(a.Key, b.Key) })
	const most = 1 << (visitCountShapes - 1)
	for len(counts) > 0 {
		part := counts[:min(len(counts), most)]
		counts = counts[len(part):]
		shape := 0
		for 1<<shape < len(part) {
			shape++
		}
		args = args[:0]
		for _, c := range part {
			if c.Key <= 0 {
				return args, fmt.Errorf("count the events of visits: visit key %d", c.Key)
			}
			args = append(args, c.Key, c.N)
		}
		// Padding: no visit has key 0.
		for range 1<<shape - len(part) {
			args = append(args, int64(0), int64(0))
		}
		if _, err := s.execHot(ctx, q, s.visitCountSQL[shape], args...); err != nil {
			return args, fmt.Errorf("count the events of %d visits: %w", len(part), err)
		}
	}
	return args, nil
}

// LastActivity returns the visit's last activity: last_seen_at, or the
// latest event if ingest has not refreshed last_seen_at yet.
func (s *Store) LastActivity(ctx context.Context, q Querier, visitID string) (int64, error) {
	var at int64
	err := q.QueryRowContext(ctx, `SELECT max(v.last_seen_at, coalesce((SELECT max(corrected_at) FROM events e
		WHERE e.visit_key = v.visit_key), 0)) FROM visits v WHERE v.visit_id = ?`, visitID).Scan(&at)
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
