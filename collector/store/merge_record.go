package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"github.com/visitrack/visitrack/collector"
)

// What a merge moved, recorded so that it can be undone exactly
// (migration 0015, merge_undo.go). The merge records everything before it
// changes anything, each statement an INSERT that keeps a row recorded
// before (ON CONFLICT DO NOTHING): a merge resumed on D1 records again,
// adds what the first run did not get to, and never overwrites a
// snapshot with the half-merged state.

// identitySnapshot is an identity's row as the merge found it.
type identitySnapshot struct {
	UserID      string          `json:"userId,omitempty"`
	Attributes  json.RawMessage `json:"attributes"`
	FirstSeenAt int64           `json:"firstSeenAt"`
	LastSeenAt  int64           `json:"lastSeenAt"`
	FirstTouch  *string         `json:"firstTouch,omitempty"`
	LastTouch   *string         `json:"lastTouch,omitempty"`
}

// docSnapshot is a visitor-data document as the merge found it; version
// 0 when there was none.
type docSnapshot struct {
	Version int64  `json:"version"`
	Data    string `json:"data"`
}

const insertMove = `INSERT INTO identity_merge_moves (merge_id, kind, row_id, how, verified, at, data) `

// recordHistory records the events, sessions and visits that carry from's
// id in the visits in scope (identityVisitIDs with scopeArgs): what
// rekeyHistory with the same scope re-keys.
func recordHistory(mergeID, from string, scopeArgs []any) []step {
	args := append([]any{mergeID, from}, scopeArgs...)
	var steps []step
	for _, t := range []struct{ kind, table, id, scope string }{
		{"event", "events", "event_id", "visit_key IN (" + identityVisitKeys + ")"},
		{"session", "sessions", "session_id", "visit_id IN (" + identityVisitIDs + ")"},
		{"visit", "visits", "visit_id", "visit_id IN (" + identityVisitIDs + ")"},
	} {
		steps = append(steps, step{insertMove + `SELECT ?, '` + t.kind + `', ` + t.id + `, NULL, NULL, NULL, NULL FROM ` + t.table +
			` WHERE identity_id = ? AND ` + t.scope + ` ON CONFLICT DO NOTHING`, args})
	}
	return steps
}

// recordMoves records what the merge rec is about to move.
func (m *Merger) recordMoves(ctx context.Context, q Querier, rec *collector.IdentityMerge) error {
	id, into, from := rec.MergeID, rec.IdentityID, rec.FromIdentityID
	steps := recordHistory(id, from, []any{from, from})
	steps = append(steps,
		step{insertMove + `SELECT ?, 'visit_link', visit_id, how, verified, linked_at, NULL FROM visit_identities
			WHERE identity_id = ? ON CONFLICT DO NOTHING`, []any{id, from}},
		// into's link to the same visit as it was; NULLs: it had none.
		step{insertMove + `SELECT ?, 'into_visit_link', f.visit_id, i.how, i.verified, i.linked_at, NULL
			FROM visit_identities f LEFT JOIN visit_identities i ON i.visit_id = f.visit_id AND i.identity_id = ?
			WHERE f.identity_id = ? ON CONFLICT DO NOTHING`, []any{id, into, from}},
		step{insertMove + `SELECT ?, 'visitor_link', visitor_id, NULL, NULL, linked_at, NULL FROM identity_visitors
			WHERE identity_id = ? ON CONFLICT DO NOTHING`, []any{id, from}},
		step{insertMove + `SELECT ?, 'into_visitor_link', f.visitor_id, NULL, NULL, i.linked_at, NULL
			FROM identity_visitors f LEFT JOIN identity_visitors i ON i.visitor_id = f.visitor_id AND i.identity_id = ?
			WHERE f.identity_id = ? ON CONFLICT DO NOTHING`, []any{id, into, from}},
		step{insertMove + `SELECT ?, 'alias', user_id, NULL, NULL, NULL, NULL FROM identity_aliases
			WHERE identity_id = ? ON CONFLICT DO NOTHING`, []any{id, from}},
		step{insertMove + `SELECT ?, 'merge', merge_id, NULL, NULL, NULL, NULL FROM identity_merges
			WHERE identity_id = ? ON CONFLICT DO NOTHING`, []any{id, from}},
	)
	if err := run(ctx, q, steps); err != nil {
		return err
	}
	snaps := map[string]any{}
	for kind, who := range map[string]string{"from_identity": from, "into_identity": into} {
		var (
			snap        identitySnapshot
			attrs       string
			first, last sql.NullString
			withUserID  = kind == "from_identity"
		)
		err := q.QueryRowContext(ctx, `SELECT user_id, attributes, first_seen_at, last_seen_at, first_touch, last_touch
			FROM identities WHERE identity_id = ?`, who).Scan(&snap.UserID, &attrs, &snap.FirstSeenAt, &snap.LastSeenAt, &first, &last)
		if errors.Is(err, sql.ErrNoRows) {
			continue // merged away already: a resumed merge recorded it before
		}
		if err != nil {
			return err
		}
		snap.Attributes, snap.FirstTouch, snap.LastTouch = json.RawMessage(attrs), nullString(first), nullString(last)
		if !withUserID {
			snap.UserID = ""
		}
		snaps[kind] = snap
	}
	for kind, who := range map[string]string{"from_data": from, "into_data": into} {
		ver, data, err := visitorDataTable.get(ctx, q, identityKey(who))
		if err != nil {
			return err
		}
		snaps[kind] = docSnapshot{Version: ver, Data: string(data)}
	}
	for kind, snap := range snaps {
		b, err := json.Marshal(snap)
		if err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, insertMove+`VALUES (?, ?, '', NULL, NULL, NULL, ?) ON CONFLICT DO NOTHING`,
			id, kind, string(b)); err != nil {
			return err
		}
	}
	return nil
}
