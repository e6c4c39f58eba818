package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/visitrack/visitrack/collector"
)

// Subject export: everything stored about one person, read page by page
// with keyset pagination, so that a person with a million events costs
// one page of memory, and no read transaction stays open while the caller
// writes to a slow client. The export reads what an erasure would remove
// (erasedVisits), so that what a person is shown is what they can have
// erased. Plain single SELECTs with `?` placeholders: D1 runs them too.
//
// Each keyset condition is written as `a >= ? AND (a > ? OR b > ?)`
// rather than as a row value, so that the index on a bounds the scan; the
// first page starts below every stored key (math.MinInt64, "").

var _ collector.SubjectExportService = (*Store)(nil)

// subjectVisitPage is the visits one query reads: each may carry up to
// 64 KiB of internal metadata.
const subjectVisitPage = 100

// ExportSubject calls fn with every record stored about s; see
// collector.SubjectExportService.
func (s *Store) ExportSubject(ctx context.Context, subj collector.Subject, fn func(collector.SubjectRecord) error) error {
	var err error
	switch subj.Kind {
	case collector.SubjectIdentity:
		err = s.exportIdentity(ctx, subj.ID, fn)
	case collector.SubjectVisitor:
		err = s.exportVisitor(ctx, subj.ID, fn)
	default:
		err = collector.Errorf(collector.EINVALID, "unknown subject kind %q", subj.Kind)
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", subj.Key(), err)
	}
	return nil
}

// exportIdentity writes the identity, its browsers, merges, visitor data
// (its own and its browsers') with their deliveries, its visit links, and
// then its visits one by one with what they hold.
func (s *Store) exportIdentity(ctx context.Context, id string, fn func(collector.SubjectRecord) error) error {
	ident, err := s.FindIdentity(ctx, id)
	if err != nil {
		return err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT user_id FROM identity_aliases WHERE identity_id = ? ORDER BY user_id`, id)
	if err != nil {
		return err
	}
	aliases, err := scanAll(rows, func(sc scanner) (string, error) {
		var u string
		return u, sc.Scan(&u)
	})
	if err != nil {
		return err
	}
	if err := fn(collector.SubjectRecord{Type: collector.RecordIdentity,
		Value: &collector.ExportIdentity{Identity: ident, UserIDs: append([]string{ident.UserID}, aliases...)}}); err != nil {
		return err
	}

	err = keyset(ctx, s, exportPage, `SELECT iv.visitor_id, v.first_seen_at, v.last_seen_at, iv.linked_at
		FROM identity_visitors iv LEFT JOIN visitors v ON v.visitor_id = iv.visitor_id
		WHERE iv.identity_id = ? AND iv.visitor_id > ? ORDER BY iv.visitor_id LIMIT ?`,
		[]any{id}, []any{""}, scanExportVisitor,
		func(v *collector.ExportVisitor) []any { return []any{v.VisitorID} },
		emit[*collector.ExportVisitor](fn, collector.RecordVisitor))
	if err != nil {
		return err
	}

	err = keyset(ctx, s, exportPage, `SELECT `+mergeColumns+`, started_at FROM identity_merges
		WHERE identity_id = ? AND started_at >= ? AND (started_at > ? OR merge_id > ?)
		ORDER BY started_at, merge_id LIMIT ?`,
		[]any{id}, startKey(), func(sc scanner) (keyed[*collector.IdentityMerge], error) {
			var k keyed[*collector.IdentityMerge]
			var err error
			k.v, err = scanMerge(tail{sc, []any{&k.t}})
			return k, err
		},
		func(k keyed[*collector.IdentityMerge]) []any { return []any{k.t, k.t, k.v.MergeID} },
		func(k keyed[*collector.IdentityMerge]) error {
			return fn(collector.SubjectRecord{Type: collector.RecordMerge, Value: k.v})
		})
	if err != nil {
		return err
	}

	// Its document and those of its browsers, as erasure takes them; the
	// deliveries also of the identities merged into it, whose documents
	// moved into its own.
	docs := `SELECT ? UNION ALL SELECT 'visitor:' || visitor_id FROM identity_visitors WHERE identity_id = ?`
	key := collector.Subject{Kind: collector.SubjectIdentity, ID: id}.Key()
	if err := s.exportVisitorData(ctx, docs, []any{key, id}, fn); err != nil {
		return err
	}
	if err := s.exportDataDeliveries(ctx, docs+` UNION ALL SELECT 'identity:' || from_identity_id FROM identity_merges WHERE identity_id = ?`,
		[]any{key, id, id}, fn); err != nil {
		return err
	}

	err = keyset(ctx, s, exportPage, `SELECT visit_id, identity_id, how, verified, linked_at, linked_at FROM visit_identities
		WHERE identity_id = ? AND linked_at >= ? AND (linked_at > ? OR visit_id > ?)
		ORDER BY linked_at, visit_id LIMIT ?`,
		[]any{id}, startKey(), func(sc scanner) (keyed[*collector.ExportVisitLink], error) {
			var (
				k      keyed[*collector.ExportVisitLink]
				l      collector.ExportVisitLink
				linked int64
			)
			err := sc.Scan(&l.VisitID, &l.IdentityID, &l.How, &l.Verified, &linked, &k.t)
			l.LinkedAt, k.v = fromMS(linked), &l
			return k, err
		},
		func(k keyed[*collector.ExportVisitLink]) []any { return []any{k.t, k.t, k.v.VisitID} },
		func(k keyed[*collector.ExportVisitLink]) error {
			return fn(collector.SubjectRecord{Type: collector.RecordVisitLink, Value: k.v})
		})
	if err != nil {
		return err
	}
	return s.exportVisits(ctx, id, `v.visit_id IN (`+erasedVisits+`)`, []any{id, id, id, id}, fn)
}

// exportVisitor writes the browser, its visitor data and their
// deliveries, and its visits with their anonymous history.
func (s *Store) exportVisitor(ctx context.Context, id string, fn func(collector.SubjectRecord) error) error {
	key := collector.Subject{Kind: collector.SubjectVisitor, ID: id}.Key()
	var ok bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM visitors WHERE visitor_id = ?)
		OR EXISTS (SELECT 1 FROM visits WHERE visitor_id = ?)
		OR EXISTS (SELECT 1 FROM identity_visitors WHERE visitor_id = ?)
		OR EXISTS (SELECT 1 FROM visitor_data WHERE subject = ?)`, id, id, id, key).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return collector.Errorf(collector.ENOTFOUND, "visitor %s not found", id)
	}
	// A browser known only by its visits or data has no visitors row.
	v, err := scanExportVisitor(s.db.QueryRowContext(ctx, `SELECT visitor_id, first_seen_at, last_seen_at, NULL
		FROM visitors WHERE visitor_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		v, err = &collector.ExportVisitor{VisitorID: id}, nil
	}
	if err != nil {
		return err
	}
	if err := fn(collector.SubjectRecord{Type: collector.RecordVisitor, Value: v}); err != nil {
		return err
	}
	if err := s.exportVisitorData(ctx, `SELECT ?`, []any{key}, fn); err != nil {
		return err
	}
	if err := s.exportDataDeliveries(ctx, `SELECT ?`, []any{key}, fn); err != nil {
		return err
	}
	// No identity is the visitor's: "" matches no identity id.
	return s.exportVisits(ctx, "", `v.visitor_id = ?`, []any{id}, fn)
}

func scanExportVisitor(sc scanner) (*collector.ExportVisitor, error) {
	var (
		v                   collector.ExportVisitor
		first, last, linked sql.NullInt64
	)
	if err := sc.Scan(&v.VisitorID, &first, &last, &linked); err != nil {
		return nil, err
	}
	v.FirstSeenAt, v.LastSeenAt, v.LinkedAt = fromNullMS(first), fromNullMS(last), fromNullMS(linked)
	return &v, nil
}

// exportVisitorData writes the visitor-data documents whose subject keys
// subjects (a SELECT of keys, with args) lists.
func (s *Store) exportVisitorData(ctx context.Context, subjects string, args []any, fn func(collector.SubjectRecord) error) error {
	return keyset(ctx, s, exportPage, `SELECT subject, version, data, updated_at FROM visitor_data
		WHERE subject IN (`+subjects+`) AND subject > ? ORDER BY subject LIMIT ?`,
		args, []any{""}, func(sc scanner) (*collector.ExportVisitorData, error) {
			var (
				d    collector.ExportVisitorData
				data string
				at   int64
			)
			err := sc.Scan(&d.Subject, &d.Version, &data, &at)
			d.Data, d.UpdatedAt = jsonObject(data), fromMS(at)
			return &d, err
		},
		func(d *collector.ExportVisitorData) []any { return []any{d.Subject} },
		emit[*collector.ExportVisitorData](fn, collector.RecordVisitorData))
}

// deliveryColumns reads a webhook_deliveries row as d.
const deliveryColumns = `d.delivery_id, d.webhook_id, d.type, d.event_id, d.body, d.created_at, d.attempts,
	d.next_at, d.delivered_at, d.failed_at, d.last_error`

func scanExportDelivery(sc scanner) (*collector.ExportDelivery, error) {
	var (
		d                   collector.ExportDelivery
		eventID             sql.NullString
		body                string
		created             int64
		next, done, failing sql.NullInt64
	)
	if err := sc.Scan(&d.DeliveryID, &d.WebhookID, &d.EventType, &eventID, &body, &created, &d.Attempts,
		&next, &done, &failing, &d.LastError); err != nil {
		return nil, err
	}
	d.EventID, d.CreatedAt = nullString(eventID), fromMS(created)
	d.NextAt, d.DeliveredAt, d.FailedAt = fromNullMS(next), fromNullMS(done), fromNullMS(failing)
	if body != "" && json.Valid([]byte(body)) {
		d.Body = json.RawMessage(body)
	}
	return &d, nil
}

// exportDataDeliveries writes the visitorData.changed deliveries of the
// subjects a SELECT of keys lists (their subject column's index).
func (s *Store) exportDataDeliveries(ctx context.Context, subjects string, args []any, fn func(collector.SubjectRecord) error) error {
	return keyset(ctx, s, exportPage, `SELECT `+deliveryColumns+` FROM webhook_deliveries d
		WHERE d.type = '`+collector.WebhookVisitorDataChanged+`' AND d.subject IN (`+subjects+`)
		AND d.delivery_id > ? ORDER BY d.delivery_id LIMIT ?`,
		args, []any{""}, scanExportDelivery,
		func(d *collector.ExportDelivery) []any { return []any{d.DeliveryID} },
		emit[*collector.ExportDelivery](fn, collector.RecordDelivery))
}

// exportVisit is one visit with what the export needs beside it.
type exportVisit struct {
	collector.ExportVisit
	started int64 // stored, for the keyset
	// shared: another identity is linked to the visit, so its pages are
	// the subject's only where the subject's events are.
	shared bool
	md     *collector.VisitMetadata // nil when none was written
}

// exportVisits writes the visits that cond (with args) selects, oldest
// first, each followed by its sessions, pages, events, webhook
// deliveries and metadata. identityID is the subject identity ("" for a
// visitor): rows that carry another identity's id are left out.
func (s *Store) exportVisits(ctx context.Context, identityID, cond string, args []any, fn func(collector.SubjectRecord) error) error {
	var hooks bool
	if err := s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM webhooks)`).Scan(&hooks); err != nil {
		return err
	}
	return keyset(ctx, s, subjectVisitPage, `SELECT `+visitColumns+`, v.ip, v.started_at,
		EXISTS (SELECT 1 FROM visit_identities o WHERE o.visit_id = v.visit_id AND o.identity_id <> ?),
		m.version, m.data, m.updated_at
		FROM visits v LEFT JOIN visit_metadata m ON m.visit_id = v.visit_id
		WHERE `+cond+` AND v.started_at >= ? AND (v.started_at > ? OR v.visit_id > ?)
		ORDER BY v.started_at, v.visit_id LIMIT ?`,
		append([]any{identityID}, args...), startKey(), scanExportVisit,
		func(v *exportVisit) []any { return []any{v.started, v.started, v.VisitID} },
		func(v *exportVisit) error { return s.exportVisit(ctx, identityID, v, hooks, fn) })
}

func scanExportVisit(sc scanner) (*exportVisit, error) {
	var (
		x       exportVisit
		ver, at sql.NullInt64
		data    sql.NullString
	)
	v, err := scanVisit(tail{sc, []any{&x.IP, &x.started, &x.shared, &ver, &data, &at}})
	if err != nil {
		return nil, err
	}
	x.Visit = v
	if ver.Valid {
		if x.md, err = newVisitMetadata(v.VisitID, ver.Int64, []byte(jsonObject(data.String)), fromMS(at.Int64)); err != nil {
			return nil, err
		}
	}
	return &x, nil
}

// exportVisit writes one visit and what it holds of the subject.
func (s *Store) exportVisit(ctx context.Context, identityID string, v *exportVisit, hooks bool, fn func(collector.SubjectRecord) error) error {
	if v.IdentityID != nil && *v.IdentityID != identityID {
		v.IdentityID = nil // another person's id
	}
	if err := fn(collector.SubjectRecord{Type: collector.RecordVisit, Value: &v.ExportVisit}); err != nil {
		return err
	}
	// own is the subject's rows: anonymous, or carrying its id.
	const own = `(x.identity_id IS NULL OR x.identity_id = ?)`
	err := keyset(ctx, s, exportPage, `SELECT session_id, visit_id, identity_id, state, verified, started_at, ended_at, started_at
		FROM sessions x WHERE visit_id = ? AND `+own+` AND started_at >= ? AND (started_at > ? OR session_id > ?)
		ORDER BY started_at, session_id LIMIT ?`,
		[]any{v.VisitID, identityID}, startKey(), scanExportSession,
		func(k keyed[*collector.Session]) []any { return []any{k.t, k.t, k.v.SessionID} },
		func(k keyed[*collector.Session]) error {
			return fn(collector.SubjectRecord{Type: collector.RecordSession, Value: k.v})
		})
	if err != nil {
		return err
	}
	err = keyset(ctx, s, exportPage, `SELECT `+pageColumns+`, entered_at FROM pages p
		WHERE visit_id = ? AND (? = 0 OR EXISTS (SELECT 1 FROM events x
			WHERE x.visit_key = (SELECT visit_key FROM visits WHERE visit_id = p.visit_id) AND x.page_id = p.page_id AND `+own+`))
		AND entered_at >= ? AND (entered_at > ? OR page_id > ?) ORDER BY entered_at, page_id LIMIT ?`,
		[]any{v.VisitID, boolInt(v.shared), identityID}, startKey(), func(sc scanner) (keyed[*collector.Page], error) {
			var k keyed[*collector.Page]
			var err error
			k.v, err = scanPage(tail{sc, []any{&k.t}})
			return k, err
		},
		func(k keyed[*collector.Page]) []any { return []any{k.t, k.t, k.v.PageID} },
		func(k keyed[*collector.Page]) error {
			return fn(collector.SubjectRecord{Type: collector.RecordPage, Value: k.v})
		})
	if err != nil {
		return err
	}
	err = keyset(ctx, s, exportPage, `SELECT x.event_id, x.visit_id, x.visitor_id, x.session_id, x.identity_id, x.page_id,
		x.name, x.category, x.timestamp, x.corrected_at, x.received_at, x.url, x.title,
		x.referrer, x.data, x.ip, x.corrected_at FROM events x
		WHERE x.visit_key = `+visitKeyOf+` AND `+own+` AND x.corrected_at >= ? AND (x.corrected_at > ? OR x.event_id > ?)
		ORDER BY x.corrected_at, x.event_id LIMIT ?`,
		[]any{v.VisitID, identityID}, startKey(), scanExportEvent,
		func(k keyed[*collector.ExportEvent]) []any { return []any{k.t, k.t, k.v.EventID} },
		func(k keyed[*collector.ExportEvent]) error {
			if err := fn(collector.SubjectRecord{Type: collector.RecordEvent, Value: k.v}); err != nil {
				return err
			}
			if k.v.Name != collector.EventConsentChanged {
				return nil
			}
			return fn(collector.SubjectRecord{Type: collector.RecordConsentChange, Value: &collector.ExportConsentChange{
				EventID: k.v.EventID, VisitID: k.v.VisitID, At: k.v.CorrectedAt, State: k.v.Data}})
		})
	if err != nil {
		return err
	}
	if hooks {
		if err := s.exportEventDeliveries(ctx, v.VisitID, identityID, fn); err != nil {
			return err
		}
	}
	if v.md != nil {
		return fn(collector.SubjectRecord{Type: collector.RecordMetadata, Value: v.md})
	}
	return nil
}

func scanExportSession(sc scanner) (keyed[*collector.Session], error) {
	var (
		k        keyed[*collector.Session]
		x        collector.Session
		identity sql.NullString
		started  int64
		ended    sql.NullInt64
	)
	err := sc.Scan(&x.SessionID, &x.VisitID, &identity, &x.State, &x.Verified, &started, &ended, &k.t)
	x.IdentityID, x.StartedAt, x.EndedAt = nullString(identity), fromMS(started), fromNullMS(ended)
	k.v = &x
	return k, err
}

func scanExportEvent(sc scanner) (keyed[*collector.ExportEvent], error) {
	var k keyed[*collector.ExportEvent]
	x := &collector.ExportEvent{}
	e, err := scanEvent(tail{sc, []any{&x.IP, &k.t}})
	x.Event, k.v = e, x
	return k, err
}

// exportEventDeliveries writes the webhook deliveries of the visit's
// events that the export holds. An event's delivery is found by its
// primary key, "msg_<webhookId>_<eventId>", as erasure finds it, walking
// the visit's events in order.
func (s *Store) exportEventDeliveries(ctx context.Context, visitID, identityID string, fn func(collector.SubjectRecord) error) error {
	return keyset(ctx, s, exportPage, `SELECT `+deliveryColumns+`, x.corrected_at
		FROM events x JOIN webhooks w ON 1 = 1
		JOIN webhook_deliveries d ON d.delivery_id = 'msg_' || w.webhook_id || '_' || x.event_id
		WHERE x.visit_key = `+visitKeyOf+` AND (x.identity_id IS NULL OR x.identity_id = ?)
		AND x.corrected_at >= ? AND (x.corrected_at > ? OR x.event_id > ? OR (x.event_id = ? AND w.webhook_id > ?))
		ORDER BY x.corrected_at, x.event_id, w.webhook_id LIMIT ?`,
		[]any{visitID, identityID}, []any{int64(math.MinInt64), int64(math.MinInt64), "", "", ""},
		func(sc scanner) (keyed[*collector.ExportDelivery], error) {
			var k keyed[*collector.ExportDelivery]
			var err error
			k.v, err = scanExportDelivery(tail{sc, []any{&k.t}})
			return k, err
		},
		func(k keyed[*collector.ExportDelivery]) []any {
			ev := ""
			if k.v.EventID != nil {
				ev = *k.v.EventID
			}
			return []any{k.t, k.t, ev, ev, k.v.WebhookID}
		},
		func(k keyed[*collector.ExportDelivery]) error {
			return fn(collector.SubjectRecord{Type: collector.RecordDelivery, Value: k.v})
		})
}

// keyed is a row with the stored key it is paged by.
type keyed[T any] struct {
	v T
	t int64
}

// startKey is the keyset arguments of a first page of `a >= ? AND (a > ?
// OR b > ?)`: below every stored row.
func startKey() []any { return []any{int64(math.MinInt64), int64(math.MinInt64), ""} }

// keyset runs query (args, then the key of the last row read, then the
// limit) page by page, limit rows at a time, and calls fn with each row
// after the page's rows were read and closed. start is the key of the
// first page; key gives the key of a row.
func keyset[T any](ctx context.Context, s *Store, limit int, query string, args, start []any,
	scan func(scanner) (T, error), key func(T) []any, fn func(T) error) error {
	buf := make([]T, 0, min(limit, 256))
	qargs := make([]any, 0, len(args)+len(start)+1)
	after := start
	for {
		qargs = append(append(append(qargs[:0], args...), after...), limit)
		rows, err := s.db.QueryContext(ctx, query, qargs...)
		if err != nil {
			return err
		}
		buf = buf[:0]
		for rows.Next() {
			x, err := scan(rows)
			if err != nil {
				rows.Close()
				return err
			}
			buf = append(buf, x)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return err
		}
		for _, x := range buf {
			if err := fn(x); err != nil {
				return err
			}
		}
		if len(buf) < limit {
			return nil
		}
		after = key(buf[len(buf)-1])
		clear(buf) // let the rows written go before the next page is read
	}
}

// emit hands each item to fn as a record of type typ.
func emit[T any](fn func(collector.SubjectRecord) error, typ string) func(T) error {
	return func(v T) error { return fn(collector.SubjectRecord{Type: typ, Value: v}) }
}

// tail reads trailing columns into extra and hands the leading ones to
// the scanner of the resource.
type tail struct {
	sc    scanner
	extra []any
}

func (t tail) Scan(dest ...any) error {
	return t.sc.Scan(append(dest, t.extra...)...)
}
