package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// Erasure. D1 has no transactions, so an erasure is a sequence of single
// statements ordered so that a crash anywhere leaves a state from which
// running the erasure again finishes it: rows are deleted children first,
// and the rows that say what belongs to the subject (the links, then the
// identity or visitor itself) last. The native store runs the sequence in
// one transaction all the same.
//
// Erasure is physical where the database allows it (docs/security.md#erasure): the
// native store zeroes deleted content (secure_delete, see package sqlite)
// and, once an erasure has committed, runs the purge that WithPurge set,
// which empties the WAL of the old copies of the erased rows. D1 offers
// neither: Cloudflare keeps its own copies (Time Travel) for its retention
// period, which docs/edge.md#erasure-is-not-physical-on-d1 states.

// purgeTimeout bounds the purge after an erasure. It runs apart from the
// request's context: a client that hangs up after the commit must not
// leave the copies behind.
const purgeTimeout = 30 * time.Second

// WithPurge sets what runs after each committed erasure to remove the
// erased rows' old copies from the disk: the native collector passes
// sqlite.Purge (a TRUNCATE checkpoint). Without it (D1) an erasure ends
// with its commit.
func WithPurge(purge func(ctx context.Context, db *sql.DB) error) Option {
	return func(s *Store) { s.purge = purge }
}

// afterErasure runs the purge. Its error (EUNAVAILABLE) says that the
// erasure itself committed, since a retry finds nothing left to erase
// (ENOTFOUND).
func (s *Store) afterErasure(ctx context.Context) error {
	if s.purge == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), purgeTimeout)
	defer cancel()
	if err := s.purge(ctx, s.db); err != nil {
		return collector.Errorf(collector.EUNAVAILABLE, "erased, but old copies of the erased rows remain in the "+
			"database's WAL until the next erasure or a clean shutdown: %v", err)
	}
	return nil
}

// erasedVisits selects the visits erased with an identity: those linked to
// it (authenticated, recognized or stitched), those it is the current
// identity of (as in identityVisitIDs, through its browsers, so that every
// statement walks indexes and holds the write lock briefly), and the visits
// of the browsers it signed in from that no other identity is linked to.
// The last rule keeps a shared computer's visits of another person. Only
// what was proven is the identity's (docs/security.md#erasure): a browser joins
// identity_visitors by a verified link alone, so an unproven claim takes
// its own visit (whose events carry the claimed userId) but never the
// claimant's browser or its other visits. Four arguments: the identity id
// four times.
const erasedVisits = identityVisitIDs + `
	UNION SELECT v.visit_id FROM visits v
		WHERE v.visitor_id IN (SELECT visitor_id FROM identity_visitors WHERE identity_id = ?)
		AND v.identity_id IS NULL
		AND NOT EXISTS (SELECT 1 FROM visit_identities o WHERE o.visit_id = v.visit_id AND o.identity_id <> ?)`

// DeleteIdentity erases the identity and everything of it: its visits and
// their pages, events, sessions, links and metadata; its visitor data and
// that of the browsers it used; and those browsers (visitors) themselves
// unless another identity also used them. It leaves an erasure record
// (erasures.go). ENOTFOUND for an unknown identity (also after a
// completed erasure).
func (s *Store) DeleteIdentity(ctx context.Context, identityID string, opt collector.EraseOptions) error {
	id := identityID
	err := s.erase(ctx, erasure{
		kind:   collector.SubjectIdentity,
		id:     id,
		exists: step{`SELECT EXISTS (SELECT 1 FROM identities WHERE identity_id = ?)`, []any{id}},
		ids:    func(ctx context.Context, q Querier) ([]string, []string, error) { return erasedIdentityIDs(ctx, q, id) },
		steps:  s.identityErasure(id),
		// A browser goes when no visit is left on it: count those whose
		// visits all go.
		counts: map[string]step{"visitors": {`SELECT count(*) FROM visitors
			WHERE visitor_id IN (SELECT visitor_id FROM identity_visitors WHERE identity_id = ?)
			AND NOT EXISTS (SELECT 1 FROM identity_visitors o WHERE o.visitor_id = visitors.visitor_id AND o.identity_id <> ?)
			AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.visitor_id = visitors.visitor_id
				AND v.visit_id NOT IN (` + erasedVisits + `))`, []any{id, id, id, id, id, id}}},
	}, opt)
	if err == nil {
		err = s.afterErasure(ctx)
	}
	if err != nil {
		return fmt.Errorf("delete identity %s: %w", id, err)
	}
	return nil
}

// erasedIdentityIDs returns the ids an identity's erasure takes along:
// the identities merged into it and the browsers it used.
func erasedIdentityIDs(ctx context.Context, q Querier, id string) (merged, visitors []string, err error) {
	for _, l := range []struct {
		sql string
		to  *[]string
	}{
		{`SELECT from_identity_id FROM identity_merges WHERE identity_id = ? AND state <> 'undone' ORDER BY from_identity_id`, &merged},
		{`SELECT visitor_id FROM identity_visitors WHERE identity_id = ? ORDER BY visitor_id`, &visitors},
	} {
		rows, err := q.QueryContext(ctx, l.sql, id)
		if err != nil {
			return nil, nil, err
		}
		if *l.to, err = scanAll(rows, func(sc scanner) (string, error) {
			var s string
			return s, sc.Scan(&s)
		}); err != nil {
			return nil, nil, err
		}
	}
	return merged, visitors, nil
}

// identityErasure is DeleteIdentity's sequence of statements.
func (s *Store) identityErasure(id string) []step {
	visits := []any{id, id, id, id}
	return []step{
		// The touches other identities copied from the erased visits (a
		// shared browser), while the visits still say what they were.
		{recomputeTouches(s.dialect.TouchJSON, erasedVisits), visits},
		// Webhook deliveries of the erased events first: once the events
		// are gone, nothing says which deliveries announced them.
		{deleteEventDeliveries(`(` + erasedVisits + `)`), visits},
		{`DELETE FROM events WHERE visit_key IN ` + visitKeysIn(`(`+erasedVisits+`)`), visits},
		{`DELETE FROM pages WHERE visit_id IN (` + erasedVisits + `)`, visits},
		{`DELETE FROM sessions WHERE visit_id IN (` + erasedVisits + `)`, visits},
		{`DELETE FROM visit_metadata WHERE visit_id IN (` + erasedVisits + `)`, visits},
		{`DELETE FROM engagement_offers WHERE visit_id IN (` + erasedVisits + `)`, visits},
		// Other identities' links to the erased visits: the visits go.
		{`DELETE FROM visit_identities WHERE identity_id <> ? AND visit_id IN (` + erasedVisits + `)`, append([]any{id}, visits...)},
		{`DELETE FROM visits WHERE visit_id IN (` + erasedVisits + `)`, visits},
		{`DELETE FROM visit_identities WHERE identity_id = ?`, []any{id}},
		// The announcements of its visitor data, its browsers' and those
		// of the identities merged into it (their documents moved into
		// its own), then the data, while identity_visitors still names the
		// browsers and identity_merges the merged identities. A merge
		// re-keys the records of the merges into the identity it takes
		// away, so these are all the identities merged into this one,
		// also through others.
		{deleteVisitorDataDeliveries + `(SELECT ? UNION ALL SELECT 'visitor:' || visitor_id FROM identity_visitors WHERE identity_id = ?
			UNION ALL SELECT 'identity:' || from_identity_id FROM identity_merges WHERE identity_id = ? AND state <> 'undone')`,
			[]any{collector.Subject{Kind: collector.SubjectIdentity, ID: id}.Key(), id, id}},
		{`DELETE FROM visitor_data WHERE subject = ?
			OR subject IN (SELECT 'visitor:' || visitor_id FROM identity_visitors WHERE identity_id = ?)`,
			[]any{collector.Subject{Kind: collector.SubjectIdentity, ID: id}.Key(), id}},
		// A browser stays while another identity used it or has visits on it.
		{`DELETE FROM visitors WHERE visitor_id IN (SELECT visitor_id FROM identity_visitors WHERE identity_id = ?)
			AND NOT EXISTS (SELECT 1 FROM identity_visitors o WHERE o.visitor_id = visitors.visitor_id AND o.identity_id <> ?)
			AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.visitor_id = visitors.visitor_id)`, []any{id, id}},
		{`DELETE FROM identity_visitors WHERE identity_id = ?`, []any{id}},
		// The userIds merged into it, and the records of those merges with
		// what they moved (snapshots of both identities): those into it, and
		// one that took it in and was undone (it names its userId).
		{`DELETE FROM identity_aliases WHERE identity_id = ?`, []any{id}},
		{`DELETE FROM identity_merge_moves WHERE merge_id IN (SELECT merge_id FROM identity_merges
			WHERE identity_id = ? OR from_identity_id = ?)`, []any{id, id}},
		{`DELETE FROM identity_merges WHERE identity_id = ? OR from_identity_id = ?`, []any{id, id}},
		{`DELETE FROM identities WHERE identity_id = ?`, []any{id}},
	}
}

// DeleteVisitor erases a browser and everything of it: all its visits and
// their pages, events, sessions, links and metadata, its visitor data and
// its links to identities. The identities themselves stay. It leaves an
// erasure record (erasures.go). ENOTFOUND when nothing of the visitor is
// stored.
func (s *Store) DeleteVisitor(ctx context.Context, visitorID string, opt collector.EraseOptions) error {
	id := visitorID
	subject := collector.Subject{Kind: collector.SubjectVisitor, ID: id}.Key()
	err := s.erase(ctx, erasure{
		kind: collector.SubjectVisitor,
		id:   id,
		exists: step{`SELECT EXISTS (SELECT 1 FROM visitors WHERE visitor_id = ?)
			OR EXISTS (SELECT 1 FROM visits WHERE visitor_id = ?)
			OR EXISTS (SELECT 1 FROM identity_visitors WHERE visitor_id = ?)
			OR EXISTS (SELECT 1 FROM visitor_data WHERE subject = ?)`, []any{id, id, id, subject}},
		ids: func(context.Context, Querier) ([]string, []string, error) {
			return nil, []string{id}, nil
		},
		steps: s.visitorErasure(id),
	}, opt)
	if err == nil {
		err = s.afterErasure(ctx)
	}
	if err != nil {
		return fmt.Errorf("delete visitor %s: %w", id, err)
	}
	return nil
}

// visitorErasure is DeleteVisitor's sequence of statements.
func (s *Store) visitorErasure(id string) []step {
	const visits = `SELECT visit_id FROM visits WHERE visitor_id = ?`
	subject := collector.Subject{Kind: collector.SubjectVisitor, ID: id}.Key()
	return []step{
		{recomputeTouches(s.dialect.TouchJSON, visits), []any{id}},
		{deleteEventDeliveries(`(` + visits + `)`), []any{id}},
		{`DELETE FROM events WHERE visit_key IN ` + visitKeysIn(`(`+visits+`)`), []any{id}},
		{`DELETE FROM pages WHERE visit_id IN (` + visits + `)`, []any{id}},
		{`DELETE FROM sessions WHERE visit_id IN (` + visits + `)`, []any{id}},
		{`DELETE FROM visit_metadata WHERE visit_id IN (` + visits + `)`, []any{id}},
		{`DELETE FROM engagement_offers WHERE visit_id IN (` + visits + `)`, []any{id}},
		{`DELETE FROM visit_identities WHERE visit_id IN (` + visits + `)`, []any{id}},
		{`DELETE FROM visits WHERE visitor_id = ?`, []any{id}},
		{deleteVisitorDataDeliveries + `(?)`, []any{subject}},
		{`DELETE FROM visitor_data WHERE subject = ?`, []any{subject}},
		{`DELETE FROM identity_visitors WHERE visitor_id = ?`, []any{id}},
		{`DELETE FROM visitors WHERE visitor_id = ?`, []any{id}},
	}
}

// The webhook outbox keeps what an erasure must take too (package
// webhook): an event's delivery names the event (its body is built when
// sent), and a visitorData.changed delivery holds a copy of the document
// until it settles, its subject in the body. An event's delivery is
// found by its primary key, "msg_<webhookId>_<eventId>" (package webhook),
// so that erasure and retention batches cost a lookup a webhook and event,
// not a scan of an outbox that may hold days of settled deliveries. (A
// settled delivery of a webhook deleted since keeps only an event id of an
// event that is gone, until it is purged.) A visitorData.changed delivery
// is found by its subject, a column read from the body (migration 0013)
// with an index of its own. The statement ends with a parenthesized list
// or subquery of subject keys.
const deleteVisitorDataDeliveries = `DELETE FROM webhook_deliveries WHERE type = '` + collector.WebhookVisitorDataChanged + `'
		AND subject IN `

// deleteEventDeliveries deletes the deliveries of the events of visits, a
// parenthesized list or subquery of visit ids.
func deleteEventDeliveries(visits string) string {
	return `DELETE FROM webhook_deliveries WHERE delivery_id IN (SELECT 'msg_' || w.webhook_id || '_' || e.event_id
		FROM events e, webhooks w WHERE e.visit_key IN ` + visitKeysIn(visits) + `)`
}

// visitKeysIn selects the keys of visits, a parenthesized list or
// subquery of visit ids: the events index (events_visit) goes by key.
func visitKeysIn(visits string) string {
	return `(SELECT visit_key FROM visits WHERE visit_id IN ` + visits + `)`
}

// step is one statement of a sequence that must survive a crash between
// any two statements.
type step struct {
	sql  string
	args []any
}

func run(ctx context.Context, q Querier, steps []step) error {
	for _, st := range steps {
		if _, err := q.ExecContext(ctx, st.sql, st.args...); err != nil {
			return err
		}
	}
	return nil
}
