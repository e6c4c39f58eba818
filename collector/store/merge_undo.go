package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/visitordata"
)

// Undoing a merge (docs/data-subject.md) puts back what the merge
// recorded it moved (merge_record.go), when nothing since prevents it
// (undoBlocker) and its time is not up (merge_expire.go). Like the merge,
// it runs in one transaction natively and as a re-runnable sequence on
// D1: the record is marked undoing first, the merged identity comes back,
// the rows go back to it (each statement by itself idempotent), both
// documents and the merging identity's own row are restored, the
// snapshots are deleted (they hold personal data), and the record is
// marked undone last. An undo stopped halfway leaves the record undoing;
// the next undo request finishes it.

// UndoMerge undoes the merge mergeID; see collector.MergeService.
func (m *Merger) UndoMerge(ctx context.Context, mergeID string, opt collector.MergeOptions) (*collector.IdentityMerge, error) {
	rec, err := m.undo(ctx, mergeID, opt)
	if err != nil {
		return nil, fmt.Errorf("undo merge %s: %w", mergeID, err)
	}
	return rec, nil
}

func (m *Merger) undo(ctx context.Context, mergeID string, opt collector.MergeOptions) (*collector.IdentityMerge, error) {
	db := m.s.db
	rec, err := scanMerge(db.QueryRowContext(ctx, `SELECT `+mergeColumns+` FROM identity_merges WHERE merge_id = ?`, mergeID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "merge %s not found (erasing an identity erases the merges into it)", mergeID)
	}
	if err != nil {
		return nil, err
	}
	var recorded bool
	if err := db.QueryRowContext(ctx, `SELECT recorded = 1 FROM identity_merges WHERE merge_id = ?`, mergeID).Scan(&recorded); err != nil {
		return nil, err
	}
	switch {
	case rec.State == collector.MergeUndone:
		return nil, collector.Errorf(collector.ECONFLICT, "merge %s was undone already, at %s", mergeID,
			rec.UndoneAt.Format("2006-01-02T15:04:05Z"))
	case rec.State == collector.MergePending:
		return nil, collector.Errorf(collector.ECONFLICT, "merge %s is pending: merge identity %s into %s again to finish it, then undo it",
			mergeID, rec.FromIdentityID, rec.IdentityID)
	case !recorded:
		return nil, collector.Errorf(collector.ECONFLICT, "merge %s was made before merges recorded what they moved: it cannot be undone", mergeID)
	case rec.State == collector.MergeDone:
		// An undo stopped halfway is finished whenever it is asked: it
		// began in time, and the maintenance job leaves it be.
		if err := m.undoExpired(rec); err != nil {
			return nil, err
		}
	}
	subjects := []string{identityKey(rec.IdentityID), identityKey(rec.FromIdentityID)}
	unlock := m.vd.lockSubjects(subjects...)
	defer unlock()
	var written []*collector.VisitorData
	now := fromMS(ms(m.s.now()))
	err = m.s.inTx(ctx, func(q Querier) error {
		if rec.State == collector.MergeDone { // not when finishing an undo stopped halfway
			if err := m.undoBlocker(ctx, q, rec); err != nil {
				return err
			}
		}
		if opt.DryRun {
			return nil
		}
		if rec.State == collector.MergeDone {
			if err := m.claimUndo(ctx, q, rec); err != nil {
				return err
			}
		}
		// An undo stopped after it deleted the snapshots has only the
		// record's state left to write.
		var left bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM identity_merge_moves WHERE merge_id = ?)`, mergeID).Scan(&left); err != nil {
			return err
		}
		if left || rec.State == collector.MergeDone {
			var err error
			if written, err = m.runUndo(ctx, q, rec); err != nil {
				return err
			}
		}
		return run(ctx, q, []step{
			{`DELETE FROM identity_merge_moves WHERE merge_id = ?`, []any{mergeID}},
			{`UPDATE identity_merges SET state = 'undone', undone_at = ?, undone_by = ? WHERE merge_id = ?`,
				[]any{ms(now), opt.TokenID, mergeID}},
		})
	})
	if err == nil || !m.s.transactions {
		for _, vd := range written {
			m.vd.notify(vd)
		}
	}
	if err != nil {
		return nil, err
	}
	out := *rec
	if opt.DryRun {
		out.State = collector.MergeDryRun
		return &out, nil
	}
	out.State, out.UndoneAt, out.UndoneBy = collector.MergeUndone, &now, opt.TokenID
	return &out, nil
}

// claimUndo marks the done merge rec undoing, unless the maintenance job
// marked it expired meanwhile (EGONE): from then on the job leaves its
// record of what it moved alone, and an undo stopped halfway on D1 is
// finished by the next.
func (m *Merger) claimUndo(ctx context.Context, q Querier, rec *collector.IdentityMerge) error {
	res, err := q.ExecContext(ctx, `UPDATE identity_merges SET state = 'undoing'
		WHERE merge_id = ? AND state = 'done' AND undo_expired_at IS NULL`, rec.MergeID)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return err
	}
	return undoGone(rec, m.undoFor)
}

// undoBlocker returns ECONFLICT naming what happened since the merge
// that its undo cannot put right, or nil.
func (m *Merger) undoBlocker(ctx context.Context, q Querier, rec *collector.IdentityMerge) error {
	id, into, from := rec.MergeID, rec.IdentityID, rec.FromIdentityID
	// A later merge of into into another identity re-keyed this record
	// to that one, so it is found here as a later merge into into.
	var laterID, laterFrom string
	err := q.QueryRowContext(ctx, `SELECT merge_id, from_identity_id FROM identity_merges
		WHERE identity_id = ? AND merge_id <> ? AND state <> 'undone' AND started_at >= ?
		AND merge_id NOT IN (SELECT row_id FROM identity_merge_moves WHERE merge_id = ? AND kind = 'merge')
		ORDER BY started_at, merge_id LIMIT 1`, into, id, ms(rec.StartedAt), id).Scan(&laterID, &laterFrom)
	if err == nil {
		return collector.Errorf(collector.ECONFLICT, "merge %s of identity %s into %s came after this one: undo it first",
			laterID, laterFrom, into)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if visit, err := m.signedInSince(ctx, q, rec); err != nil || visit != "" {
		if err == nil {
			err = collector.Errorf(collector.ECONFLICT, "the userId of identity %s signed in again since the merge (visit %s) "+
				"and its new visits are identity %s's: an undo would leave them there", from, visit, into)
		}
		return err
	}
	var gone, what string
	err = q.QueryRowContext(ctx, `SELECT row_id, kind FROM identity_merge_moves m WHERE merge_id = ? AND (
			(kind IN ('visit', 'visit_link') AND NOT EXISTS (SELECT 1 FROM visits v WHERE v.visit_id = m.row_id))
			OR (kind = 'visitor_link' AND NOT EXISTS (SELECT 1 FROM identity_visitors iv
				WHERE iv.identity_id = ? AND iv.visitor_id = m.row_id)))
		ORDER BY kind, row_id LIMIT 1`, id, into).Scan(&gone, &what)
	if err == nil {
		noun := "visit"
		if what == "visitor_link" {
			noun = "browser (visitor)"
		}
		return collector.Errorf(collector.ECONFLICT, "the %s %s that the merge moved was erased or expired since: "+
			"an undo cannot put it back", noun, gone)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	_, err = m.undoneData(ctx, q, rec)
	return err
}

// signedInSince returns a visit in which the merged identity's userId
// signed in after the merge (it resolved to into), or "".
func (m *Merger) signedInSince(ctx context.Context, q Querier, rec *collector.IdentityMerge) (string, error) {
	since := rec.StartedAt
	if rec.FinishedAt != nil {
		since = *rec.FinishedAt
	}
	rows, err := q.QueryContext(ctx, `SELECT visit_id, data FROM events WHERE identity_id = ? AND name = 'SignIn'
		AND received_at >= ? AND visit_key IN (`+identityVisitKeys+`)`, rec.IdentityID, ms(since), rec.IdentityID, rec.IdentityID)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	for rows.Next() {
		var visit, data string
		if err := rows.Scan(&visit, &data); err != nil {
			return "", err
		}
		var d struct {
			UserID any `json:"userId"`
		}
		if json.Unmarshal([]byte(data), &d) == nil && strings.TrimSpace(fmt.Sprint(d.UserID)) == rec.FromUserID {
			return visit, nil
		}
	}
	return "", rows.Err()
}

// snapshot reads the merge's recorded snapshot of kind into v.
func snapshot(ctx context.Context, q Querier, mergeID, kind string, v any) error {
	var data string
	if err := q.QueryRowContext(ctx, `SELECT data FROM identity_merge_moves WHERE merge_id = ? AND kind = ? AND row_id = ''`,
		mergeID, kind).Scan(&data); err != nil {
		return fmt.Errorf("the merge's %s: %w", kind, err)
	}
	return json.Unmarshal([]byte(data), v)
}

// undoneDocs are the two documents an undo writes.
type undoneDocs struct {
	from        docSnapshot
	intoVersion int64
	into        visitordata.Document // into's without the namespaces from brought
	intoChanged bool
}

// undoneData computes both documents, or ECONFLICT when a namespace the
// merge brought into into changed since.
func (m *Merger) undoneData(ctx context.Context, q Querier, rec *collector.IdentityMerge) (*undoneDocs, error) {
	var fromSnap, intoSnap docSnapshot
	if err := snapshot(ctx, q, rec.MergeID, "from_data", &fromSnap); err != nil {
		return nil, err
	}
	if err := snapshot(ctx, q, rec.MergeID, "into_data", &intoSnap); err != nil {
		return nil, err
	}
	fromDoc, err := visitordata.ParseStored([]byte(fromSnap.Data))
	if err != nil {
		return nil, err
	}
	intoBefore, err := visitordata.ParseStored([]byte(intoSnap.Data))
	if err != nil {
		return nil, err
	}
	ver, raw, err := visitorDataTable.get(ctx, q, identityKey(rec.IdentityID))
	if err != nil {
		return nil, err
	}
	cur, err := visitordata.ParseStored(raw)
	if err != nil {
		return nil, err
	}
	out := &undoneDocs{from: fromSnap, intoVersion: ver, into: cur.Clone()}
	for _, ns := range fromDoc.Names() {
		if _, had := intoBefore[ns]; had {
			continue // into's won; the merge brought nothing
		}
		v, ok := cur[ns]
		if !ok {
			continue // removed since, or by an undo stopped halfway
		}
		if !bytes.Equal(v, fromDoc[ns]) {
			return nil, collector.Errorf(collector.ECONFLICT, "the visitor-data namespace %s that the merge moved into identity %s "+
				"changed since: put it back as it was or delete it, then undo", ns, rec.IdentityID)
		}
		delete(out.into, ns)
		out.intoChanged = true
	}
	return out, nil
}

// runUndo puts back what the merge moved, but for the record's state.
// It returns the documents it wrote, for the listeners.
func (m *Merger) runUndo(ctx context.Context, q Querier, rec *collector.IdentityMerge) ([]*collector.VisitorData, error) {
	id, into, from := rec.MergeID, rec.IdentityID, rec.FromIdentityID
	var fromRow, intoRow identitySnapshot
	if err := snapshot(ctx, q, id, "from_identity", &fromRow); err != nil {
		return nil, err
	}
	if err := snapshot(ctx, q, id, "into_identity", &intoRow); err != nil {
		return nil, err
	}
	in := func(kind, extra string) string {
		return `(SELECT row_id FROM identity_merge_moves WHERE merge_id = ? AND kind = '` + kind + `'` + extra + `)`
	}
	steps := []step{
		{`INSERT INTO identities (identity_id, user_id, attributes, first_seen_at, last_seen_at, first_touch, last_touch)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (identity_id) DO NOTHING`,
			[]any{from, fromRow.UserID, string(fromRow.Attributes), fromRow.FirstSeenAt, fromRow.LastSeenAt, fromRow.FirstTouch, fromRow.LastTouch}},
		{`UPDATE identity_merges SET identity_id = ? WHERE merge_id IN ` + in("merge", ""), []any{from, id}},
		{`UPDATE identity_aliases SET identity_id = ? WHERE identity_id = ? AND user_id IN ` + in("alias", ""), []any{from, into, id}},
		{`DELETE FROM identity_aliases WHERE user_id = ? AND merge_id = ?`, []any{rec.FromUserID, id}},
		{`UPDATE events SET identity_id = ? WHERE identity_id = ? AND event_id IN ` + in("event", ""), []any{from, into, id}},
		{`UPDATE sessions SET identity_id = ? WHERE identity_id = ? AND session_id IN ` + in("session", ""), []any{from, into, id}},
		{`UPDATE visits SET identity_id = ? WHERE identity_id = ? AND visit_id IN ` + in("visit", ""), []any{from, into, id}},
		// The merged identity's links as they were; into's as they were
		// before the merge: gone where it had none, else restored.
		{`INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at)
			SELECT row_id, ?, how, verified, at FROM identity_merge_moves WHERE merge_id = ? AND kind = 'visit_link'
			ON CONFLICT DO NOTHING`, []any{from, id}},
		{`DELETE FROM visit_identities WHERE identity_id = ? AND visit_id IN ` + in("into_visit_link", " AND how IS NULL"), []any{into, id}},
		{`UPDATE visit_identities SET
			how = (SELECT m.how FROM identity_merge_moves m WHERE m.merge_id = ? AND m.kind = 'into_visit_link' AND m.row_id = visit_identities.visit_id),
			verified = (SELECT m.verified FROM identity_merge_moves m WHERE m.merge_id = ? AND m.kind = 'into_visit_link' AND m.row_id = visit_identities.visit_id),
			linked_at = (SELECT m.at FROM identity_merge_moves m WHERE m.merge_id = ? AND m.kind = 'into_visit_link' AND m.row_id = visit_identities.visit_id)
			WHERE identity_id = ? AND visit_id IN ` + in("into_visit_link", " AND how IS NOT NULL"), []any{id, id, id, into, id}},
		{`INSERT INTO identity_visitors (identity_id, visitor_id, linked_at)
			SELECT ?, row_id, at FROM identity_merge_moves WHERE merge_id = ? AND kind = 'visitor_link'
			ON CONFLICT DO NOTHING`, []any{from, id}},
		{`DELETE FROM identity_visitors WHERE identity_id = ? AND visitor_id IN ` + in("into_visitor_link", " AND at IS NULL"), []any{into, id}},
		{`UPDATE identity_visitors SET
			linked_at = (SELECT m.at FROM identity_merge_moves m WHERE m.merge_id = ? AND m.kind = 'into_visitor_link' AND m.row_id = identity_visitors.visitor_id)
			WHERE identity_id = ? AND visitor_id IN ` + in("into_visitor_link", " AND at IS NOT NULL"), []any{id, into, id}},
	}
	if err := run(ctx, q, steps); err != nil {
		return nil, err
	}
	written, err := m.restoreData(ctx, q, rec)
	if err != nil {
		return nil, err
	}
	return written, m.restoreInto(ctx, q, into, intoRow, fromRow)
}

// restoreData writes the merged identity's document back (a version past
// the one it had, so that no client mistakes it for a copy it holds) and
// takes the namespaces it brought out of into's.
func (m *Merger) restoreData(ctx context.Context, q Querier, rec *collector.IdentityMerge) ([]*collector.VisitorData, error) {
	docs, err := m.undoneData(ctx, q, rec)
	if err != nil {
		return nil, err
	}
	var written []*collector.VisitorData
	if docs.from.Version > 0 {
		var ver int64
		err := q.QueryRowContext(ctx, `INSERT INTO visitor_data (subject, version, data, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (subject) DO NOTHING RETURNING version`,
			identityKey(rec.FromIdentityID), docs.from.Version+1, docs.from.Data, ms(m.s.now())).Scan(&ver)
		switch {
		case err == nil:
			written = append(written, &collector.VisitorData{Subject: collector.Subject{Kind: collector.SubjectIdentity,
				ID: rec.FromIdentityID}, Version: ver, Data: []byte(docs.from.Data)})
		case !errors.Is(err, sql.ErrNoRows): // no row: an undo stopped halfway wrote it
			return nil, err
		}
	}
	if docs.intoChanged {
		enc, err := docs.into.Encode()
		if err != nil {
			return nil, ruleError(err)
		}
		if err := visitorDataTable.cas(ctx, q, identityKey(rec.IdentityID), docs.intoVersion, enc, m.s.now()); errors.Is(err, errRetry) {
			return nil, collector.Errorf(collector.ECONFLICT, "the visitor data of identity %s changed during the undo; undo again to finish it", rec.IdentityID)
		} else if err != nil {
			return nil, err
		}
		written = append(written, &collector.VisitorData{Subject: collector.Subject{Kind: collector.SubjectIdentity, ID: rec.IdentityID},
			Version: docs.intoVersion + 1, Data: enc})
	}
	return written, nil
}

// restoreInto gives into back its attributes and first and last seen as
// they were, where they are still what the merge made them: an attribute
// the merge brought from from goes unless it changed since, a time goes
// back unless into was seen since.
func (m *Merger) restoreInto(ctx context.Context, q Querier, into string, before, fromRow identitySnapshot) error {
	var attrs string
	var first, last int64
	if err := q.QueryRowContext(ctx, `SELECT attributes, first_seen_at, last_seen_at FROM identities WHERE identity_id = ?`, into).
		Scan(&attrs, &first, &last); err != nil {
		return err
	}
	var cur, prior, fromA map[string]json.RawMessage
	for _, a := range []struct {
		raw []byte
		to  *map[string]json.RawMessage
	}{{[]byte(attrs), &cur}, {before.Attributes, &prior}, {fromRow.Attributes, &fromA}} {
		if err := json.Unmarshal(a.raw, a.to); err != nil {
			return fmt.Errorf("identity attributes: %w", err)
		}
	}
	changed := false
	for k, v := range fromA {
		if _, had := prior[k]; !had && sameJSON(cur[k], v) {
			delete(cur, k)
			changed = true
		}
	}
	out := attrs
	switch {
	case maps.EqualFunc(cur, prior, sameJSON):
		out = string(before.Attributes) // as it was, to the byte
	case changed:
		b, err := json.Marshal(cur)
		if err != nil {
			return err
		}
		out = string(b)
	}
	if first == min(before.FirstSeenAt, fromRow.FirstSeenAt) {
		first = before.FirstSeenAt
	}
	if last == max(before.LastSeenAt, fromRow.LastSeenAt) {
		last = before.LastSeenAt
	}
	_, err := q.ExecContext(ctx, `UPDATE identities SET attributes = ?, first_seen_at = ?, last_seen_at = ? WHERE identity_id = ?`,
		out, first, last, into)
	return err
}

// sameJSON reports whether a and b are the same JSON text but for
// insignificant space.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return bytes.Equal(a, b)
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}
