package collector

import (
	"context"
	"time"
)

// LinkStore is what the browser endpoints (collector/live) need of
// storage besides ingest: the links between a visitor and the identities
// the collector's cookies speak for, the browser keys, and the handoff
// tokens already redeemed (docs/identity.md#cookies-kept-by-the-collector).
type LinkStore interface {
	// RedeemHandoff records a handoff token's id and reports whether it
	// was new: a token is accepted once.
	RedeemHandoff(ctx context.Context, id string, expiresAt time.Time) (bool, error)
	// IssuedTo reports whether the collector linked the identity to one
	// of the visitor's visits itself (so it may have issued that visitor
	// a token for it).
	IssuedTo(ctx context.Context, visitorID, identityID string, verified bool) (bool, error)
	// IdentityUserID returns the identity's userId, "" when not stored.
	IdentityUserID(ctx context.Context, identityID string) (string, error)
	// StoredVisitorKey returns the hash of the visitor's browser key.
	StoredVisitorKey(ctx context.Context, visitorID string) (hash string, found bool, err error)
	// RecognitionUsable reports whether a valid token may still
	// recognize: its identity is stored and it was not revoked.
	RecognitionUsable(ctx context.Context, identityID, tokenID string) (bool, error)
	// RevokeRecognitionToken makes a recognition token recognize
	// nobody, as SignOut does.
	RevokeRecognitionToken(ctx context.Context, tokenID string, expiresAt time.Time) error
}
