package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The identity's rows on the write path: who signed in, and how each
// identity is linked to a visit.

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
