package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// The store keeps what the browser endpoints need (collector/live).
var _ collector.LinkStore = (*Store)(nil)

// Queries of first-party cookies and the cross-domain handoff
// (docs/identity.md). Each is one statement, as D1 wants.

// RedeemHandoff records a handoff token's id and reports whether it was
// new: a token is accepted once. It first deletes the ids whose tokens
// have expired, which no one can redeem any more, so the table holds at
// most two minutes of handoffs.
func (s *Store) RedeemHandoff(ctx context.Context, id string, expiresAt time.Time) (bool, error) {
	now := s.now().UnixMilli()
	if _, err := s.db.ExecContext(ctx, `DELETE FROM handoff_uses WHERE expires_at < ?`, now); err != nil {
		return false, fmt.Errorf("redeem handoff: %w", err)
	}
	var got string
	err := s.db.QueryRowContext(ctx, `INSERT INTO handoff_uses (token_id, expires_at) VALUES (?, ?)
		ON CONFLICT DO NOTHING RETURNING token_id`, id, expiresAt.UnixMilli()).Scan(&got)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redeem handoff: %w", err)
	}
	return true, nil
}

// IdentityUserID returns the userId of an identity, or "" when it is not
// stored (erased).
func (s *Store) IdentityUserID(ctx context.Context, identityID string) (string, error) {
	var userID string
	err := s.db.QueryRowContext(ctx, `SELECT user_id FROM identities WHERE identity_id = ?`, identityID).Scan(&userID)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("find identity %s: %w", identityID, err)
	}
	return userID, nil
}

// IssuedTo reports whether the collector linked the identity to one of
// the visitor's visits itself, by a SignIn or a recognition: only then
// can it have issued that visitor a recognition token for the identity.
// A stitched link (an earlier anonymous visit) does not count, and for a
// verified token only a verified link does: a bare UserInfo claim made in
// a browser must not let it store someone's verified token.
func (s *Store) IssuedTo(ctx context.Context, visitorID, identityID string, verified bool) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM visit_identities vi JOIN visits v ON v.visit_id = vi.visit_id
		WHERE vi.identity_id = ? AND v.visitor_id = ? AND vi.how IN ('authenticated', 'recognized') AND vi.verified >= ?`,
		identityID, visitorID, boolInt(verified)).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("find links of identity %s: %w", identityID, err)
	}
	return n > 0, nil
}

// StoredVisitorKey is VisitorKeyHash outside a batch.
func (s *Store) StoredVisitorKey(ctx context.Context, visitorID string) (hash string, found bool, err error) {
	return s.VisitorKeyHash(ctx, s.db, visitorID)
}

// RevokeRecognitionToken is RevokeRecognition outside a batch: the token with id
// tokenID recognizes nobody from now on (until expiresAt, after which it
// is void anyway).
func (s *Store) RevokeRecognitionToken(ctx context.Context, tokenID string, expiresAt time.Time) error {
	return s.RevokeRecognition(ctx, s.db, tokenID, expiresAt.UnixMilli(), s.now().UnixMilli())
}

// RecognitionUsable is RecognitionValid outside a batch: the token's
// identity is stored and the token was not revoked.
func (s *Store) RecognitionUsable(ctx context.Context, identityID, tokenID string) (bool, error) {
	return s.RecognitionValid(ctx, s.db, identityID, tokenID)
}
