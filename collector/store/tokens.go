package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// API tokens. A token's secret is "vt_" and 32 random bytes in base64url;
// only its SHA-256 is stored, so a stolen database holds no usable token.
// The secret has 256 bits of entropy, so an unsalted fast hash is enough:
// there is nothing to guess.

var _ collector.TokenService = (*Store)(nil)

// TokenPrefix starts every secret CreateToken makes; it lets secret
// scanners and people recognise a Visitrack token.
const TokenPrefix = "vt_"

// MinSecretLen is the shortest secret EnsureToken accepts.
const MinSecretLen = 16

// CreateToken stores a new token with the given scopes and returns it with
// its secret, which is not stored and cannot be shown again. EINVALID for
// no scope or an unknown one.
func (s *Store) CreateToken(ctx context.Context, scopes []string) (*collector.Token, string, error) {
	if err := checkScopes(scopes); err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	now := s.now()
	t := &collector.Token{TokenID: ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(), Scopes: scopes, CreatedAt: fromMS(ms(now))}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO tokens (token_id, hash, scopes, created_at) VALUES (?, ?, ?, ?)`,
		t.TokenID, hashSecret(secret), strings.Join(scopes, " "), ms(now)); err != nil {
		return nil, "", fmt.Errorf("create token: %w", err)
	}
	return t, secret, nil
}

// EnsureToken makes sure a token with this secret exists and has these
// scopes, creating it if needed: the collector calls it at start with the
// admin token from VISITRACK_ADMIN_TOKEN or <data-dir>/admin.token. A
// revoked token stays revoked (RevokedAt is set on the result), so that a
// restart does not undo a revocation. EINVALID for a secret shorter than
// MinSecretLen or a bad scope.
func (s *Store) EnsureToken(ctx context.Context, secret string, scopes []string) (*collector.Token, error) {
	if len(secret) < MinSecretLen {
		return nil, collector.Errorf(collector.EINVALID, "token secret must be at least %d characters", MinSecretLen)
	}
	if err := checkScopes(scopes); err != nil {
		return nil, fmt.Errorf("ensure token: %w", err)
	}
	now := s.now()
	t, err := scanToken(s.db.QueryRowContext(ctx, `INSERT INTO tokens (token_id, hash, scopes, created_at)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (hash) DO UPDATE SET scopes = excluded.scopes
		RETURNING token_id, scopes, created_at, revoked_at`,
		ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(), hashSecret(secret), strings.Join(scopes, " "), ms(now)))
	if err != nil {
		return nil, fmt.Errorf("ensure token: %w", err)
	}
	return t, nil
}

// Authenticate returns the live token whose secret is secret, or
// EUNAUTHORIZED for an unknown or revoked one.
func (s *Store) Authenticate(ctx context.Context, secret string) (*collector.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT token_id, scopes, created_at, revoked_at
		FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hashSecret(secret)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.EUNAUTHORIZED, "unknown or revoked token")
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	return t, nil
}

// ListTokens returns every token, revoked ones included, oldest first
// (in creation order within a millisecond: the rowid).
func (s *Store) ListTokens(ctx context.Context) ([]*collector.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT token_id, scopes, created_at, revoked_at
		FROM tokens ORDER BY created_at, rowid`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	tokens, err := scanAll(rows, scanToken)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return tokens, nil
}

// RevokeToken revokes a token; revoking a revoked token again keeps its
// first revocation time. ENOTFOUND for an unknown id.
func (s *Store) RevokeToken(ctx context.Context, tokenID string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = coalesce(revoked_at, ?) WHERE token_id = ?`,
		ms(s.now()), tokenID)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", tokenID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke token %s: %w", tokenID, err)
	} else if n == 0 {
		return collector.Errorf(collector.ENOTFOUND, "token %s not found", tokenID)
	}
	return nil
}

// hashSecret is the stored form of a secret: hex SHA-256.
func hashSecret(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// checkScopes refuses an empty scope list and unknown scopes, so that a
// typo does not make a token that silently grants nothing.
func checkScopes(scopes []string) error {
	if len(scopes) == 0 {
		return collector.Errorf(collector.EINVALID, "a token needs at least one scope")
	}
	for _, sc := range scopes {
		switch sc {
		case collector.ScopeHistoryRead, collector.ScopeHistoryDelete, collector.ScopeVisitorDataRead,
			collector.ScopeMetadataRead, collector.ScopeMetadataWrite, collector.ScopeStatsRead, collector.ScopeNotifyWrite, collector.ScopeMetricsRead, collector.ScopeAdmin,
			collector.ScopeSubjectExport, collector.ScopeEngagementRead, collector.ScopeEngagementWrite:
			continue
		}
		if ns, ok := strings.CutPrefix(sc, collector.ScopeVisitorDataWrite); ok && (ns == "*" || protocol.ValidNamespace(ns)) {
			continue
		}
		return collector.Errorf(collector.EINVALID, "unknown scope %q (want history:read, history:delete, "+
			"visitordata:read, visitordata:write:<namespace>, visitordata:write:*, metadata:read, metadata:write, stats:read, notify:write, metrics:read, subject:export, engagement:read, engagement:write or admin)", sc)
	}
	return nil
}

func scanToken(sc scanner) (*collector.Token, error) {
	var (
		t       collector.Token
		scopes  string
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&t.TokenID, &scopes, &created, &revoked); err != nil {
		return nil, err
	}
	t.Scopes = strings.Fields(scopes)
	t.CreatedAt, t.RevokedAt = fromMS(created), fromNullMS(revoked)
	return &t, nil
}
