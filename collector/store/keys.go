package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Browser keys and recognition-token revocations (docs/security.md). Each
// method is one statement, as D1 wants.

// VisitorKeyHash returns the stored hash of the visitor's key: found is
// false when no such visitor is stored, and hash is "" for a visitor
// stored before keys existed.
func (s *Store) VisitorKeyHash(ctx context.Context, q Querier, visitorID string) (hash string, found bool, err error) {
	var h sql.NullString
	err = q.QueryRowContext(ctx, `SELECT key_hash FROM visitors WHERE visitor_id = ?`, visitorID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read key of visitor %s: %w", visitorID, err)
	}
	return h.String, true, nil
}

// ClaimVisitorKey sets the key of a visitor stored before keys existed,
// and reports whether this call set it: false when the visitor has a key
// already (another request claimed it first) or is not stored.
func (s *Store) ClaimVisitorKey(ctx context.Context, q Querier, visitorID, hash string) (bool, error) {
	var id string
	err := q.QueryRowContext(ctx, `UPDATE visitors SET key_hash = ? WHERE visitor_id = ? AND key_hash IS NULL
		RETURNING visitor_id`, hash, visitorID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim key of visitor %s: %w", visitorID, err)
	}
	return true, nil
}

// RevokeRecognition records a recognition token's id as revoked until its
// expiry (Unix milliseconds), and drops revocations whose tokens have
// expired by now: they cannot be presented any more.
func (s *Store) RevokeRecognition(ctx context.Context, q Querier, tokenID string, expiresAt, now int64) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO revoked_tokens (token_id, expires_at) VALUES (?, ?)
		ON CONFLICT (token_id) DO NOTHING`, tokenID, expiresAt); err != nil {
		return fmt.Errorf("revoke token: %w", err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM revoked_tokens WHERE expires_at < ?`, now); err != nil {
		return fmt.Errorf("prune revoked tokens: %w", err)
	}
	return nil
}

// MergedTokenValid reports whether an unrevoked token issued for the
// identity of userID proves identityID now: that identity was merged into
// identityID (its userId is an alias of it), so the person who earned the
// token is identityID's.
func (s *Store) MergedTokenValid(ctx context.Context, q Querier, userID, identityID, tokenID string) (bool, error) {
	var ok bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM identity_aliases WHERE user_id = ? AND identity_id = ?)
		AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = ?)`, userID, identityID, tokenID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check a merged identity's token for identity %s: %w", identityID, err)
	}
	return ok, nil
}

// RecognitionValid reports whether a recognition token of the identity,
// with id tokenID, may still recognize: the identity is stored (a token
// may outlive an erased identity) and the token was not revoked.
func (s *Store) RecognitionValid(ctx context.Context, q Querier, identityID, tokenID string) (bool, error) {
	var ok bool
	err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM identities WHERE identity_id = ?)
		AND NOT EXISTS (SELECT 1 FROM revoked_tokens WHERE token_id = ?)`, identityID, tokenID).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check recognition of identity %s: %w", identityID, err)
	}
	return ok, nil
}
