package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/visitordata"
)

// Identity merges. The native store runs a merge in one transaction. D1
// has none, so there a merge is a sequence of single statements ordered so
// that running it again after a crash finishes it:
//
//  1. the record is written first, as pending, with the counts;
//  2. the alias (from's userId → into) next, so that a SignIn during the
//     merge already lands on into;
//  3. then rows are re-keyed from from to into, each statement by itself
//     idempotent: events, sessions and visits first (they are found
//     through from's visit links), then the visit links and the browser
//     links (copied as upserts, then deleted), then the visitor data
//     (stitched into into's document, then from's deleted);
//  4. from's attributes are folded into into's, from is deleted, and the
//     record is marked done.
//
// A crash leaves every history row with exactly one of the two
// identities; only visitor data can be in both for a moment (into's wins
// on the next run). A pending record makes the next request for the same
// pair finish the job, and refuses any other merge of from.

var _ collector.MergeService = (*Merger)(nil)

// Merger merges identities; it implements collector.MergeService.
type Merger struct {
	s  *Store
	vd *VisitorData // its locks and listeners: into's browsers hear of the merged document
	// undoFor is how long after it finished a merge can be undone
	// (merge_expire.go).
	undoFor time.Duration
}

// NewMerger returns the merge service on s, announcing visitor-data
// changes through vd. A merge can be undone for DefaultMergeUndo unless
// WithUndoLimit says otherwise.
func NewMerger(s *Store, vd *VisitorData) *Merger {
	return &Merger{s: s, vd: vd, undoFor: DefaultMergeUndo}
}

// mergeColumns reads an identity_merges row.
const mergeColumns = `merge_id, identity_id, from_identity_id, from_user_id, token_id, state, moved, started_at, finished_at,
	undone_at, coalesce(undone_by, ''), undo_expired_at`

// MergeIdentities merges from into into; see collector.MergeService.
func (m *Merger) MergeIdentities(ctx context.Context, into, from string, opt collector.MergeOptions) (*collector.IdentityMerge, error) {
	rec, err := m.merge(ctx, into, from, opt)
	if err != nil {
		return nil, fmt.Errorf("merge identity %s into %s: %w", from, into, err)
	}
	return rec, nil
}

func (m *Merger) merge(ctx context.Context, into, from string, opt collector.MergeOptions) (*collector.IdentityMerge, error) {
	if into == from {
		return nil, collector.Errorf(collector.EINVALID, "an identity cannot be merged into itself")
	}
	db := m.s.db
	// into must be a live identity, not one merged away.
	if gone, err := m.mergedAway(ctx, db, into); err != nil || gone != nil {
		if err == nil {
			err = collector.Errorf(collector.ECONFLICT, "identity %s was merged into %s at %s; merge into %s instead",
				into, gone.IdentityID, gone.StartedAt.Format("2006-01-02T15:04:05Z"), gone.IdentityID)
		}
		return nil, err
	}
	var intoUser string
	if err := db.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE identity_id = ?`, into).Scan(&intoUser); errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "identity %s not found", into)
	} else if err != nil {
		return nil, err
	}
	prior, err := m.mergedAway(ctx, db, from)
	if err != nil {
		return nil, err
	}
	switch {
	case prior != nil && prior.State == collector.MergeUndoing:
		return nil, collector.Errorf(collector.ECONFLICT, "merge %s of identity %s is being undone: undo it again to finish that first",
			prior.MergeID, from)
	case prior != nil && prior.State == collector.MergeDone:
		return nil, collector.Errorf(collector.ECONFLICT, "identity %s was merged into %s already, at %s",
			from, prior.IdentityID, prior.StartedAt.Format("2006-01-02T15:04:05Z"))
	case prior != nil && prior.IdentityID != into:
		return nil, collector.Errorf(collector.ECONFLICT, "a merge of identity %s into %s is pending: run that one again to finish it",
			from, prior.IdentityID)
	case prior != nil && opt.DryRun:
		return prior, nil
	case prior != nil:
		return m.run(ctx, prior, false) // resume
	}
	rec := &collector.IdentityMerge{IdentityID: into, FromIdentityID: from, TokenID: opt.TokenID,
		State: collector.MergePending, StartedAt: fromMS(ms(m.s.now()))}
	if err := db.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE identity_id = ?`, from).Scan(&rec.FromUserID); errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "identity %s not found", from)
	} else if err != nil {
		return nil, err
	}
	if rec.Moved, err = m.count(ctx, db, from); err != nil {
		return nil, err
	}
	if _, err := m.mergedData(ctx, db, into, from); err != nil {
		return nil, err
	}
	if opt.DryRun {
		rec.State = collector.MergeDryRun
		return rec, nil
	}
	rec.MergeID = ulid.MustNew(ulid.Timestamp(m.s.now()), rand.Reader).String()
	return m.run(ctx, rec, true)
}

// run carries out a merge, recording it first unless it resumes one: in
// one transaction natively, as a re-runnable sequence on D1 (see the top
// of this file).
func (m *Merger) run(ctx context.Context, rec *collector.IdentityMerge, record bool) (*collector.IdentityMerge, error) {
	into, from := rec.IdentityID, rec.FromIdentityID
	subjects := []string{identityKey(into), identityKey(from)}
	unlock := m.vd.lockSubjects(subjects...)
	defer unlock()
	var written *collector.VisitorData
	finished := fromMS(ms(m.s.now()))
	err := m.s.inTx(ctx, func(q Querier) error {
		if record {
			moved, _ := json.Marshal(rec.Moved)
			var id string
			err := q.QueryRowContext(ctx, `INSERT INTO identity_merges (merge_id, identity_id, from_identity_id, from_user_id,
				token_id, state, moved, started_at, recorded) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, 1)
				ON CONFLICT (from_identity_id) WHERE state <> 'undone' DO NOTHING RETURNING merge_id`,
				rec.MergeID, into, from, rec.FromUserID, rec.TokenID, string(moved), ms(rec.StartedAt)).Scan(&id)
			if errors.Is(err, sql.ErrNoRows) {
				return collector.Errorf(collector.ECONFLICT, "another merge of identity %s started at the same time; list the merges and try again", from)
			}
			if err != nil {
				return err
			}
		}
		// What it moves, before it moves it (merge_record.go).
		if err := m.recordMoves(ctx, q, rec); err != nil {
			return err
		}
		fromVisits := []any{from, from}
		steps := []step{
			{`INSERT INTO identity_aliases (user_id, identity_id, merge_id) VALUES (?, ?, ?)
				ON CONFLICT (user_id) DO UPDATE SET identity_id = excluded.identity_id, merge_id = excluded.merge_id`,
				[]any{rec.FromUserID, into, rec.MergeID}},
			// Aliases of identities merged into from earlier follow it, and
			// so do the records of those merges: into's list shows all it
			// took in, and erasing into erases them.
			{`UPDATE identity_aliases SET identity_id = ? WHERE identity_id = ?`, []any{into, from}},
			{`UPDATE identity_merges SET identity_id = ? WHERE identity_id = ?`, []any{into, from}},
		}
		steps = append(steps, rekeyHistory(into, from, fromVisits)...)
		steps = append(steps,
			// Visit links: into's link wins where both are linked, made as
			// strong as the stronger of the two.
			step{`INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at)
				SELECT visit_id, ?, how, verified, linked_at FROM visit_identities WHERE identity_id = ?
				ON CONFLICT (visit_id, identity_id) DO UPDATE SET
					how = CASE WHEN 'authenticated' IN (visit_identities.how, excluded.how) THEN 'authenticated'
						WHEN 'recognized' IN (visit_identities.how, excluded.how) THEN 'recognized' ELSE visit_identities.how END,
					verified = max(visit_identities.verified, excluded.verified),
					linked_at = min(visit_identities.linked_at, excluded.linked_at)`,
				[]any{into, from}},
			step{`DELETE FROM visit_identities WHERE identity_id = ?`, []any{from}},
			step{`INSERT INTO identity_visitors (identity_id, visitor_id, linked_at)
				SELECT ?, visitor_id, linked_at FROM identity_visitors WHERE identity_id = ?
				ON CONFLICT (identity_id, visitor_id) DO UPDATE SET linked_at = min(identity_visitors.linked_at, excluded.linked_at)`,
				[]any{into, from}},
			step{`DELETE FROM identity_visitors WHERE identity_id = ?`, []any{from}},
		)
		if err := run(ctx, q, steps); err != nil {
			return err
		}
		var err error
		if written, err = m.moveData(ctx, q, into, from); err != nil {
			return err
		}
		return run(ctx, q, []step{
			// from's attributes where into has none of the name; into's
			// first and last seen widen to cover from's.
			{`UPDATE identities SET
				attributes = json_patch((SELECT f.attributes FROM identities f WHERE f.identity_id = ?), attributes),
				first_seen_at = min(first_seen_at, (SELECT f.first_seen_at FROM identities f WHERE f.identity_id = ?)),
				last_seen_at = max(last_seen_at, (SELECT f.last_seen_at FROM identities f WHERE f.identity_id = ?))
				WHERE identity_id = ? AND EXISTS (SELECT 1 FROM identities f WHERE f.identity_id = ?)`,
				[]any{from, from, from, into, from}},
			{`DELETE FROM identities WHERE identity_id = ?`, []any{from}},
			{`UPDATE identity_merges SET state = 'done', finished_at = ? WHERE merge_id = ?`, []any{ms(finished), rec.MergeID}},
		})
	})
	if written != nil && (err == nil || !m.s.transactions) {
		m.vd.notify(written)
	}
	if err != nil {
		return nil, err
	}
	done := *rec
	done.State, done.FinishedAt = collector.MergeDone, &finished
	return &done, nil
}

// rekeyHistory re-keys the events, sessions and visits that carry from's
// id, found through the visits in scope (identityVisitIDs with args
// scopeArgs), so that every statement walks an index.
func rekeyHistory(into, from string, scopeArgs []any) []step {
	args := append([]any{into, from}, scopeArgs...)
	return []step{
		{`UPDATE events SET identity_id = ? WHERE identity_id = ? AND visit_key IN (` + identityVisitKeys + `)`, args},
		{`UPDATE sessions SET identity_id = ? WHERE identity_id = ? AND visit_id IN (` + identityVisitIDs + `)`, args},
		{`UPDATE visits SET identity_id = ? WHERE identity_id = ? AND visit_id IN (` + identityVisitIDs + `)`, args},
	}
}

// Sweep re-keys rows that a writer still holding from's id in its cache
// wrote after the merge committed. Call it after the ingest cache was
// dropped (the server does); it looks through into's visits, which now
// include from's.
func (m *Merger) Sweep(ctx context.Context, rec *collector.IdentityMerge) error {
	into := rec.IdentityID
	if err := m.s.inTx(ctx, func(q Querier) error {
		scope := []any{into, into}
		steps := append(recordHistory(rec.MergeID, rec.FromIdentityID, scope), rekeyHistory(into, rec.FromIdentityID, scope)...)
		return run(ctx, q, steps)
	}); err != nil {
		return fmt.Errorf("sweep merge %s: %w", rec.MergeID, err)
	}
	return nil
}

// moveData stitches from's visitor data into into's (into's namespaces
// win) and deletes from's. It returns into's new document when it
// changed.
func (m *Merger) moveData(ctx context.Context, q Querier, into, from string) (*collector.VisitorData, error) {
	md, err := m.mergedData(ctx, q, into, from)
	if err != nil {
		return nil, err
	}
	var written *collector.VisitorData
	if md.changed {
		enc, err := md.merged.Encode()
		if err != nil {
			return nil, ruleError(err)
		}
		if err := visitorDataTable.cas(ctx, q, identityKey(into), md.intoVersion, enc, m.s.now()); errors.Is(err, errRetry) {
			return nil, collector.Errorf(collector.ECONFLICT, "the visitor data of identity %s changed during the merge; run the merge again to finish it", into)
		} else if err != nil {
			return nil, err
		}
		written = &collector.VisitorData{Subject: collector.Subject{Kind: collector.SubjectIdentity, ID: into},
			Version: md.intoVersion + 1, Data: enc}
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM visitor_data WHERE subject = ?`, identityKey(from)); err != nil {
		return nil, err
	}
	return written, nil
}

// mergedDoc is into's visitor data with from's stitched in.
type mergedDoc struct {
	intoVersion int64
	merged      visitordata.Document
	changed     bool
}

// mergedData computes the merged document, or ECONFLICT when some of
// from's namespaces would not fit into's limits: a merge never drops data.
func (m *Merger) mergedData(ctx context.Context, q Querier, into, from string) (*mergedDoc, error) {
	iver, iraw, err := visitorDataTable.get(ctx, q, identityKey(into))
	if err != nil {
		return nil, err
	}
	_, fraw, err := visitorDataTable.get(ctx, q, identityKey(from))
	if err != nil {
		return nil, err
	}
	idoc, err := visitordata.ParseStored(iraw)
	if err != nil {
		return nil, err
	}
	fdoc, err := visitordata.ParseStored(fraw)
	if err != nil {
		return nil, err
	}
	merged, dropped := visitordata.Stitch(idoc, fdoc)
	if len(dropped) > 0 {
		return nil, collector.Errorf(collector.ECONFLICT, "the visitor data of identity %s would not fit with %s's "+
			"(at most %d namespaces and 64 KiB): move or delete its namespaces %s first",
			into, from, visitordata.MaxNamespaces, strings.Join(dropped, ", "))
	}
	return &mergedDoc{intoVersion: iver, merged: merged, changed: len(visitordata.Changed(idoc, merged)) > 0}, nil
}

// count returns what merging from would move.
func (m *Merger) count(ctx context.Context, q Querier, from string) (collector.MergeCounts, error) {
	var c collector.MergeCounts
	scope := `SELECT visit_id FROM (` + identityVisitIDs + `) AS scope`
	err := q.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM (`+identityVisitIDs+`) AS scope),
		(SELECT count(*) FROM sessions WHERE identity_id = ? AND visit_id IN (`+scope+`)),
		(SELECT count(*) FROM events WHERE identity_id = ? AND visit_key IN `+visitKeysIn(`(`+scope+`)`)+`),
		(SELECT count(*) FROM visit_identities WHERE identity_id = ?),
		(SELECT count(*) FROM identity_visitors WHERE identity_id = ?)`,
		from, from, from, from, from, from, from, from, from, from).
		Scan(&c.Visits, &c.Sessions, &c.Events, &c.VisitLinks, &c.VisitorLinks)
	if err != nil {
		return c, err
	}
	_, raw, err := visitorDataTable.get(ctx, q, identityKey(from))
	if err != nil {
		return c, err
	}
	doc, err := visitordata.ParseStored(raw)
	if err != nil {
		return c, err
	}
	c.VisitorDataNamespaces = len(doc)
	return c, nil
}

// mergedAway returns the merge that took identityID away (pending or
// done), or nil.
func (m *Merger) mergedAway(ctx context.Context, q Querier, identityID string) (*collector.IdentityMerge, error) {
	rec, err := scanMerge(q.QueryRowContext(ctx, `SELECT `+mergeColumns+` FROM identity_merges
		WHERE from_identity_id = ? AND state <> 'undone'`, identityID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

// FindMerges returns the merges into identityID, newest first.
func (m *Merger) FindMerges(ctx context.Context, identityID string, opt collector.ListOptions) ([]*collector.IdentityMerge, string, error) {
	recs, next, err := m.findMerges(ctx, identityID, opt)
	if err != nil {
		return nil, "", fmt.Errorf("find merges into identity %s: %w", identityID, err)
	}
	return recs, next, nil
}

// listMerges names the cursor of a merges list.
const listMerges = "merges"

func (m *Merger) findMerges(ctx context.Context, identityID string, opt collector.ListOptions) ([]*collector.IdentityMerge, string, error) {
	limit, err := pageLimit(opt)
	if err != nil {
		return nil, "", err
	}
	c, err := decodeCursor(listMerges, opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.and(`identity_id = ?`, identityID)
	if c != nil {
		w.and(`(started_at, merge_id) < (?, ?)`, c.T, c.ID)
	}
	rows, err := m.s.db.QueryContext(ctx, `SELECT `+mergeColumns+` FROM identity_merges`+w.String()+
		` ORDER BY started_at DESC, merge_id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	recs, err := scanAll(rows, scanMerge)
	if err != nil {
		return nil, "", err
	}
	if len(recs) == 0 {
		if err := m.s.mustExist(ctx, "identity", identityID); err != nil {
			return nil, "", err
		}
	}
	recs, next := page(recs, limit, listMerges, func(r *collector.IdentityMerge) (int64, string) {
		return ms(r.StartedAt), r.MergeID
	})
	return recs, next, nil
}

func scanMerge(sc scanner) (*collector.IdentityMerge, error) {
	var (
		r        collector.IdentityMerge
		moved    string
		started  int64
		finished sql.NullInt64
		undone   sql.NullInt64
		expired  sql.NullInt64
	)
	if err := sc.Scan(&r.MergeID, &r.IdentityID, &r.FromIdentityID, &r.FromUserID, &r.TokenID, &r.State,
		&moved, &started, &finished, &undone, &r.UndoneBy, &expired); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(moved), &r.Moved); err != nil {
		return nil, fmt.Errorf("merge %s: stored counts: %w", r.MergeID, err)
	}
	r.StartedAt, r.FinishedAt, r.UndoneAt, r.UndoExpiredAt = fromMS(started), fromNullMS(finished), fromNullMS(undone), fromNullMS(expired)
	return &r, nil
}

func identityKey(id string) string {
	return collector.Subject{Kind: collector.SubjectIdentity, ID: id}.Key()
}

// lockSubjects takes the in-process locks of the subjects' documents, in
// stripe order so that two callers cannot deadlock, and returns their
// release.
func (v *VisitorData) lockSubjects(keys ...string) func() {
	var stripes []int
	for _, k := range keys {
		stripes = append(stripes, v.stripe(k))
	}
	slices.Sort(stripes)
	stripes = slices.Compact(stripes)
	for _, i := range stripes {
		v.locks[i].Lock()
	}
	return func() {
		for _, i := range stripes {
			v.locks[i].Unlock()
		}
	}
}
