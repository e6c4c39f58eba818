package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// The read side of the History REST API. Every method runs single SELECTs
// that Cloudflare D1 also runs: `?` placeholders only, row values for the
// keyset comparisons, no statement that needs a transaction.

var _ collector.HistoryService = (*Store)(nil)

// visitColumns reads a visit with its counts. last_seen_at is refreshed
// only every few seconds on ingest, so the visit's newest event can be
// newer: lastSeenAt is the later of the two (one seek in events_visit).
// The event count is kept on the visit by ingest (CountEvents,
// TouchVisit); the page count walks the visit's few entries of pages_visit.
const visitColumns = `v.visit_id, v.visitor_id, v.identity_id, v.session_id, v.state, v.verified,
	v.started_at,
	max(v.last_seen_at, coalesce((SELECT max(e.corrected_at) FROM events e WHERE e.visit_key = v.visit_key), 0)),
	v.ended_at, v.landing_url, v.referrer, v.user_agent,
	(SELECT count(*) FROM pages p WHERE p.visit_id = v.visit_id),
	v.event_count,
	v.browser, v.browser_version, v.os, v.device_type, v.bot, v.bot_reason, v.referrer_type,
	v.utm, v.click_ids, v.country, v.region, v.city, v.reached, v.was_verified, v.cookieless`

// identityVisitIDs selects the visit ids of an identity: the visits linked
// to it (authenticated, recognized or stitched) and the visits it is the
// current identity of. Ingest links every visit it gives an identity, so
// the second part is a safety net; it looks only at the identity's
// browsers so that it walks the visits_visitor index instead of every
// visit. Two arguments: the identity id twice.
const identityVisitIDs = `SELECT visit_id FROM visit_identities WHERE identity_id = ?
	UNION SELECT v.visit_id FROM identity_visitors iv JOIN visits v ON v.visitor_id = iv.visitor_id
		WHERE iv.identity_id = ? AND v.identity_id = iv.identity_id`

// identityVisitKeys selects the keys of the same visits, by which the
// events index (events_visit) finds their events. Two arguments: the
// identity id twice.
const identityVisitKeys = `SELECT visit_key FROM visits WHERE visit_id IN (` + identityVisitIDs + `)`

// visitKeyOf is the key of the visit named by one argument, its id (NULL
// for an unknown visit, which matches no event).
const visitKeyOf = `(SELECT visit_key FROM visits WHERE visit_id = ?)`

// FindVisits returns visits newest first (by startedAt). Since and Until
// bound startedAt: since inclusive, until exclusive.
func (s *Store) FindVisits(ctx context.Context, f collector.VisitFilter) ([]*collector.Visit, string, error) {
	visits, next, err := s.findVisits(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("find visits: %w", err)
	}
	return visits, next, nil
}

func (s *Store) findVisits(ctx context.Context, f collector.VisitFilter) ([]*collector.Visit, string, error) {
	limit, err := pageLimit(f.ListOptions)
	if err != nil {
		return nil, "", err
	}
	c, err := decodeCursor(listVisits, f.Cursor)
	if err != nil {
		return nil, "", err
	}
	if err := checkRange(f.Since, f.Until); err != nil {
		return nil, "", err
	}
	var w where
	if f.IdentityID != "" {
		w.and(`v.visit_id IN (`+identityVisitIDs+`)`, f.IdentityID, f.IdentityID)
	}
	if f.VisitorID != "" {
		w.and(`v.visitor_id = ?`, f.VisitorID)
	}
	if f.State != "" {
		switch f.State {
		case "anonymous", "recognized", "authenticated":
		default:
			return nil, "", collector.Errorf(collector.EINVALID, "state must be anonymous, recognized or authenticated, not %q", f.State)
		}
		w.and(`v.state = ?`, f.State)
	}
	if !f.Since.IsZero() {
		w.and(`v.started_at >= ?`, msCeil(f.Since))
	}
	if !f.Until.IsZero() {
		w.and(`v.started_at < ?`, msCeil(f.Until))
	}
	if c != nil {
		w.and(`(v.started_at, v.visit_id) < (?, ?)`, c.T, c.ID)
	}
	q := `SELECT ` + visitColumns + ` FROM visits v` + w.String() +
		` ORDER BY v.started_at DESC, v.visit_id DESC LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	visits, err := scanAll(rows, scanVisit)
	if err != nil {
		return nil, "", err
	}
	visits, next := page(visits, limit, listVisits, func(v *collector.Visit) (int64, string) {
		return ms(v.StartedAt), v.VisitID
	})
	return visits, next, nil
}

// FindVisit returns one visit with its page and event counts, or ENOTFOUND.
func (s *Store) FindVisit(ctx context.Context, visitID string) (*collector.Visit, error) {
	v, err := scanVisit(s.db.QueryRowContext(ctx, `SELECT `+visitColumns+` FROM visits v WHERE v.visit_id = ?`, visitID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "visit %s not found", visitID)
	}
	if err != nil {
		return nil, fmt.Errorf("find visit %s: %w", visitID, err)
	}
	return v, nil
}

// FindPages returns a visit's pages in the order they were entered, or
// ENOTFOUND for an unknown visit: ListPages with only a visit.
func (s *Store) FindPages(ctx context.Context, visitID string, opt collector.ListOptions) ([]*collector.Page, string, error) {
	return s.ListPages(ctx, collector.PageFilter{VisitID: visitID, ListOptions: opt})
}

const pageColumns = `page_id, visit_id, url, title, referrer, entered_at, exited_at,
	coalesce(duration_ms, exited_at - entered_at)`

// FindPage returns one page, or ENOTFOUND.
func (s *Store) FindPage(ctx context.Context, pageID string) (*collector.Page, error) {
	p, err := scanPage(s.db.QueryRowContext(ctx, `SELECT `+pageColumns+` FROM pages WHERE page_id = ?`, pageID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "page %s not found", pageID)
	}
	if err != nil {
		return nil, fmt.Errorf("find page %s: %w", pageID, err)
	}
	return p, nil
}

// FindEvents returns events in order of their corrected time (ties by
// eventId). IdentityID selects the events of all the identity's visits,
// stitched anonymous ones included. Since and Until bound the corrected
// time: since inclusive, until exclusive. An unknown visit or identity
// yields an empty list: they are filters, not resources.
func (s *Store) FindEvents(ctx context.Context, f collector.EventFilter) ([]*collector.Event, string, error) {
	events, next, err := s.findEvents(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("find events: %w", err)
	}
	return events, next, nil
}

func (s *Store) findEvents(ctx context.Context, f collector.EventFilter) ([]*collector.Event, string, error) {
	limit, err := pageLimit(f.ListOptions)
	if err != nil {
		return nil, "", err
	}
	c, err := decodeCursor(listEvents, f.Cursor)
	if err != nil {
		return nil, "", err
	}
	if err := checkRange(f.Since, f.Until); err != nil {
		return nil, "", err
	}
	var w where
	if f.VisitID != "" {
		w.and(`e.visit_key = `+visitKeyOf, f.VisitID)
	}
	if f.IdentityID != "" {
		w.and(`e.visit_key IN (`+identityVisitKeys+`)`, f.IdentityID, f.IdentityID)
	}
	if f.PageID != "" {
		// Through the page's visit, so that the events_visit index finds
		// the rows: events has no index on page_id.
		w.and(`e.visit_key = (SELECT v.visit_key FROM pages p JOIN visits v ON v.visit_id = p.visit_id WHERE p.page_id = ?)
			AND e.page_id = ?`, f.PageID, f.PageID)
	}
	urlFilter(&w, "e.url", f.URL, f.URLPrefix)
	if f.Name != "" {
		w.and(`e.name = ?`, f.Name)
	}
	if f.Category != "" {
		if f.Category != "system" && f.Category != "business" {
			return nil, "", collector.Errorf(collector.EINVALID, "category must be system or business, not %q", f.Category)
		}
		w.and(`e.category = ?`, f.Category)
	}
	if !f.Since.IsZero() {
		w.and(`e.corrected_at >= ?`, msCeil(f.Since))
	}
	if !f.Until.IsZero() {
		w.and(`e.corrected_at < ?`, msCeil(f.Until))
	}
	if c != nil {
		w.and(`(e.corrected_at, e.event_id) > (?, ?)`, c.T, c.ID)
	}
	q := `SELECT e.event_id, e.visit_id, e.visitor_id, e.session_id, e.identity_id, e.page_id,
		e.name, e.category, e.timestamp, e.corrected_at, e.received_at, e.url, e.title,
		e.referrer, e.data FROM events e` + w.String() +
		` ORDER BY e.corrected_at, e.event_id LIMIT ?`
	rows, err := s.db.QueryContext(ctx, q, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	events, err := scanAll(rows, scanEvent)
	if err != nil {
		return nil, "", err
	}
	events, next := page(events, limit, listEvents, func(e *collector.Event) (int64, string) {
		return ms(e.CorrectedAt), e.EventID
	})
	return events, next, nil
}

// FindSessions returns a visit's sessions in the order they started, or
// ENOTFOUND for an unknown visit.
func (s *Store) FindSessions(ctx context.Context, visitID string, opt collector.ListOptions) ([]*collector.Session, string, error) {
	sessions, next, err := s.findSessions(ctx, visitID, opt)
	if err != nil {
		return nil, "", fmt.Errorf("find sessions of visit %s: %w", visitID, err)
	}
	return sessions, next, nil
}

func (s *Store) findSessions(ctx context.Context, visitID string, opt collector.ListOptions) ([]*collector.Session, string, error) {
	limit, err := pageLimit(opt)
	if err != nil {
		return nil, "", err
	}
	c, err := decodeCursor(listSessions, opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.and(`visit_id = ?`, visitID)
	if c != nil {
		w.and(`(started_at, session_id) > (?, ?)`, c.T, c.ID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT session_id, visit_id, identity_id, state, verified,
		started_at, ended_at FROM sessions`+w.String()+` ORDER BY started_at, session_id LIMIT ?`,
		append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	sessions, err := scanAll(rows, func(sc scanner) (*collector.Session, error) {
		var (
			x        collector.Session
			identity sql.NullString
			started  int64
			ended    sql.NullInt64
		)
		if err := sc.Scan(&x.SessionID, &x.VisitID, &identity, &x.State, &x.Verified, &started, &ended); err != nil {
			return nil, err
		}
		x.IdentityID, x.StartedAt, x.EndedAt = nullString(identity), fromMS(started), fromNullMS(ended)
		return &x, nil
	})
	if err != nil {
		return nil, "", err
	}
	if len(sessions) == 0 {
		if err := s.mustExist(ctx, "visit", visitID); err != nil {
			return nil, "", err
		}
	}
	sessions, next := page(sessions, limit, listSessions, func(x *collector.Session) (int64, string) {
		return ms(x.StartedAt), x.SessionID
	})
	return sessions, next, nil
}

// FindVisitIdentities returns the identities linked to a visit, in the
// order they were linked, or ENOTFOUND for an unknown visit. A visit has a
// handful at most, so the list is not paged.
func (s *Store) FindVisitIdentities(ctx context.Context, visitID string) ([]*collector.VisitIdentity, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT vi.identity_id, coalesce(i.user_id, ''), vi.how,
		vi.verified, vi.linked_at FROM visit_identities vi
		LEFT JOIN identities i ON i.identity_id = vi.identity_id
		WHERE vi.visit_id = ? ORDER BY vi.linked_at, vi.identity_id`, visitID)
	if err != nil {
		return nil, fmt.Errorf("find identities of visit %s: %w", visitID, err)
	}
	links, err := scanAll(rows, func(sc scanner) (*collector.VisitIdentity, error) {
		var (
			x      collector.VisitIdentity
			linked int64
		)
		if err := sc.Scan(&x.IdentityID, &x.UserID, &x.How, &x.Verified, &linked); err != nil {
			return nil, err
		}
		x.LinkedAt = fromMS(linked)
		return &x, nil
	})
	if err == nil && len(links) == 0 {
		err = s.mustExist(ctx, "visit", visitID)
	}
	if err != nil {
		return nil, fmt.Errorf("find identities of visit %s: %w", visitID, err)
	}
	return links, nil
}

// identityColumns reads an identity with the ids of the browsers it used.
const identityColumns = `i.identity_id, i.user_id, i.attributes, i.first_seen_at, i.last_seen_at,
	(SELECT group_concat(iv.visitor_id, ' ') FROM identity_visitors iv WHERE iv.identity_id = i.identity_id),
	i.first_touch, i.last_touch`

// FindIdentities returns identities in the order they were created; with
// a userID, the one identity of that user (or none), which is the identity
// it was merged into if it was.
func (s *Store) FindIdentities(ctx context.Context, userID string, opt collector.ListOptions) ([]*collector.Identity, string, error) {
	ids, next, err := s.findIdentities(ctx, userID, opt)
	if err != nil {
		return nil, "", fmt.Errorf("find identities: %w", err)
	}
	return ids, next, nil
}

func (s *Store) findIdentities(ctx context.Context, userID string, opt collector.ListOptions) ([]*collector.Identity, string, error) {
	limit, err := pageLimit(opt)
	if err != nil {
		return nil, "", err
	}
	c, err := decodeCursor(listIdentities, opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	var w where
	if userID != "" {
		// A userId merged into another identity resolves to it.
		w.and(`(i.user_id = ? OR i.identity_id = (SELECT identity_id FROM identity_aliases WHERE user_id = ?))`, userID, userID)
	}
	if c != nil {
		w.and(`i.identity_id > ?`, c.ID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+identityColumns+` FROM identities i`+w.String()+
		` ORDER BY i.identity_id LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	ids, err := scanAll(rows, scanIdentity)
	if err != nil {
		return nil, "", err
	}
	ids, next := page(ids, limit, listIdentities, func(i *collector.Identity) (int64, string) {
		return 0, i.IdentityID
	})
	return ids, next, nil
}

// FindIdentity returns one identity with its visitor ids, or ENOTFOUND.
func (s *Store) FindIdentity(ctx context.Context, identityID string) (*collector.Identity, error) {
	i, err := scanIdentity(s.db.QueryRowContext(ctx, `SELECT `+identityColumns+` FROM identities i WHERE i.identity_id = ?`, identityID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "identity %s not found", identityID)
	}
	if err != nil {
		return nil, fmt.Errorf("find identity %s: %w", identityID, err)
	}
	return i, nil
}

// FindIdentityVisits returns the identity's visits newest first, the
// anonymous visits stitched at SignIn included, or ENOTFOUND for an unknown
// identity.
func (s *Store) FindIdentityVisits(ctx context.Context, identityID string, opt collector.ListOptions) ([]*collector.Visit, string, error) {
	visits, next, err := s.findVisits(ctx, collector.VisitFilter{IdentityID: identityID, ListOptions: opt})
	if err == nil && len(visits) == 0 {
		err = s.mustExist(ctx, "identity", identityID)
	}
	if err != nil {
		return nil, "", fmt.Errorf("find visits of identity %s: %w", identityID, err)
	}
	return visits, next, nil
}

// mustExist returns ENOTFOUND unless the visit or identity exists. Lists
// under a resource call it only when they come back empty.
func (s *Store) mustExist(ctx context.Context, kind, id string) error {
	q := map[string]string{
		"visit":    `SELECT EXISTS (SELECT 1 FROM visits WHERE visit_id = ?)`,
		"identity": `SELECT EXISTS (SELECT 1 FROM identities WHERE identity_id = ?)`,
	}[kind]
	var ok bool
	if err := s.db.QueryRowContext(ctx, q, id).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return collector.Errorf(collector.ENOTFOUND, "%s %s not found", kind, id)
	}
	return nil
}

// checkRange refuses a time range that ends before it starts.
func checkRange(since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && !since.Before(until) {
		return collector.Errorf(collector.EINVALID, "since must be before until")
	}
	return nil
}

// msCeil is the first stored millisecond at or after t: stored times have
// millisecond precision, and a bound between two milliseconds must neither
// take in nor leave out the one below it.
func msCeil(t time.Time) int64 {
	m := t.UnixMilli()
	if time.UnixMilli(m).Before(t) {
		m++
	}
	return m
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface{ Scan(dest ...any) error }

// scanAll reads every row with scan and closes rows.
func scanAll[T any](rows *sql.Rows, scan func(scanner) (T, error)) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

func scanVisit(sc scanner) (*collector.Visit, error) {
	var (
		v                  collector.Visit
		identity           sql.NullString
		started, lastSeen  int64
		ended              sql.NullInt64
		pageCount, evCount int
		utm, clicks        string
	)
	if err := sc.Scan(&v.VisitID, &v.VisitorID, &identity, &v.SessionID, &v.State, &v.Verified,
		&started, &lastSeen, &ended, &v.LandingURL, &v.Referrer, &v.UserAgent, &pageCount, &evCount,
		&v.Browser, &v.BrowserVersion, &v.OS, &v.DeviceType, &v.Bot, &v.BotReason, &v.ReferrerType,
		&utm, &clicks, &v.Country, &v.Region, &v.City, &v.Reached, &v.WasVerified, &v.Cookieless); err != nil {
		return nil, err
	}
	v.UTM, v.ClickIDs = jsonObject(utm), jsonObject(clicks)
	v.IdentityID = nullString(identity)
	v.StartedAt, v.LastSeenAt, v.EndedAt = fromMS(started), fromMS(lastSeen), fromNullMS(ended)
	v.PageCount, v.EventCount = pageCount, evCount
	return &v, nil
}

func scanPage(sc scanner) (*collector.Page, error) {
	var (
		p        collector.Page
		entered  int64
		exited   sql.NullInt64
		duration sql.NullInt64
	)
	if err := sc.Scan(&p.PageID, &p.VisitID, &p.URL, &p.Title, &p.Referrer, &entered, &exited, &duration); err != nil {
		return nil, err
	}
	p.EnteredAt, p.ExitedAt = fromMS(entered), fromNullMS(exited)
	if duration.Valid {
		d := duration.Int64
		p.DurationMS = &d
	}
	return &p, nil
}

func scanEvent(sc scanner) (*collector.Event, error) {
	var (
		e                       collector.Event
		identity                sql.NullString
		ts, corrected, received int64
		data                    string
	)
	if err := sc.Scan(&e.EventID, &e.VisitID, &e.VisitorID, &e.SessionID, &identity, &e.PageID,
		&e.Name, &e.Category, &ts, &corrected, &received, &e.URL, &e.Title, &e.Referrer, &data); err != nil {
		return nil, err
	}
	e.IdentityID = nullString(identity)
	e.Timestamp, e.CorrectedAt, e.ReceivedAt = fromMS(ts), fromMS(corrected), fromMS(received)
	e.Data = jsonOrEmpty(data)
	return &e, nil
}

func scanIdentity(sc scanner) (*collector.Identity, error) {
	var (
		i               collector.Identity
		attrs           string
		first, lastSeen int64
		visitors        sql.NullString
		firstT, lastT   sql.NullString
	)
	if err := sc.Scan(&i.IdentityID, &i.UserID, &attrs, &first, &lastSeen, &visitors, &firstT, &lastT); err != nil {
		return nil, err
	}
	i.FirstTouch, i.LastTouch = touch(firstT), touch(lastT)
	i.Attributes = jsonOrEmpty(attrs)
	i.FirstSeenAt, i.LastSeenAt = fromMS(first), fromMS(lastSeen)
	i.VisitorIDs = strings.Fields(visitors.String)
	slices.Sort(i.VisitorIDs) // ULIDs: the order the browsers were first seen
	if i.VisitorIDs == nil {
		i.VisitorIDs = []string{}
	}
	return &i, nil
}

// jsonOrEmpty returns a stored JSON object column, {} when it is empty.
func jsonOrEmpty(s string) json.RawMessage {
	if s == "" {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}

// jsonObject returns a stored JSON object as is, or {} for anything that
// is not one (a value written by hand, a truncated row), so that a visit
// always encodes.
func jsonObject(s string) json.RawMessage {
	if len(s) < 2 || s[0] != '{' || !json.Valid([]byte(s)) {
		return json.RawMessage("{}")
	}
	return json.RawMessage(s)
}

// touch returns a stored touch, or null when there is none (or it is not
// a JSON object), so that an identity always encodes.
func touch(v sql.NullString) json.RawMessage {
	if !v.Valid {
		return json.RawMessage("null")
	}
	return jsonObject(v.String)
}
