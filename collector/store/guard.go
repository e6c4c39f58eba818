package store

import (
	"context"
	"fmt"
)

// guardVisitSQL fails (json() of text that is not JSON raises an error)
// unless the visit is stored open with everything a collect decides from:
// its visitor and that visitor's browser key, identity, session, state,
// start, and bot and cookieless flags. last_seen_at only grows, and a
// copy older than the stored value errs on the safe side (a timeout
// check reads it again), so it is not compared.
const guardVisitSQL = `SELECT CASE WHEN EXISTS (SELECT 1 FROM visits v LEFT JOIN visitors r ON r.visitor_id = v.visitor_id
	WHERE v.visit_id = ? AND v.visitor_id = ? AND v.identity_id IS ? AND v.session_id = ? AND v.state = ?
		AND v.verified = ? AND v.started_at = ? AND v.ended_at IS NULL AND r.key_hash IS ? AND v.bot = ?
		AND v.cookieless = ?)
	THEN 1 ELSE json('visitrack: the visit changed') END`

// GuardVisit runs a statement that fails unless visit v is stored as v
// says, and open. On the edge it goes first into a request's batch of
// writes that were decided from a copy of v kept since an earlier request
// (instead of reading the visit, a round trip): when the copy went stale
// (the visit ended, was erased or merged, its identity or key changed),
// the whole batch fails and stores nothing, and the request runs again
// from a fresh read. A compare-and-set for a batch, where D1 has no
// transactions to hold a read in.
func (s *Store) GuardVisit(ctx context.Context, q Querier, v *VisitState) error {
	if _, err := q.ExecContext(ctx, guardVisitSQL, v.VisitID, v.VisitorID, nullIfEmpty(v.IdentityID), v.SessionID,
		v.State, v.Verified, v.StartedAt, nullIfEmpty(v.KeyHash), v.Bot, v.Cookieless); err != nil {
		return fmt.Errorf("visit %s as last seen: %w", v.VisitID, err)
	}
	return nil
}
