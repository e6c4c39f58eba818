package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
)

// What the collectors of one database share (docs/deployment.md): values
// the first node to start writes and every node reads, so that no file is
// copied by hand between machines. Two nodes that start at the same moment
// both try to write; the primary key lets one win and the other waits for
// its commit, then reads the winner's value.

// Names of the shared values.
const (
	// SharedRecognitionKey is the recognition key in hex: it signs
	// recognition tokens and derives the handoff and cookie keys.
	SharedRecognitionKey = "recognition_key"
	// SharedAdminToken is the hash of the admin token the first node made
	// or was given (VISITRACK_ADMIN_TOKEN): never the token itself.
	SharedAdminToken = "admin_token"
)

// SharedSecret returns the value shared under name, storing candidate
// first when none is stored: the first caller's candidate becomes every
// caller's value.
func (s *Store) SharedSecret(ctx context.Context, name, candidate string) (string, error) {
	if candidate == "" {
		return "", fmt.Errorf("shared %s: an empty value", name)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO shared_secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, candidate, ms(s.now())); err != nil {
		return "", fmt.Errorf("store shared %s: %w", name, err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, `SELECT value FROM shared_secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return "", fmt.Errorf("read shared %s: %w", name, err)
	}
	return v, nil
}

// AdminTokenState is what EnsureSharedAdmin found.
type AdminTokenState struct {
	// Created is true when this call made candidate the shared admin
	// token: the caller is the one that knows it and must hand it over.
	Created bool
	// Known is true when candidate is the shared admin token (made now or
	// before), false when another node's token is.
	Known bool
}

// EnsureSharedAdmin makes candidate the admin token of every node, unless
// a node did so with another token already. The record and the token row
// are written in one transaction, so that a crash never leaves a record
// of a token nobody can present; a node that starts at the same moment
// waits for that commit and finds the record. Only the token's hash is
// stored. A revoked admin token stays revoked.
func (s *Store) EnsureSharedAdmin(ctx context.Context, candidate string) (AdminTokenState, error) {
	if len(candidate) < MinSecretLen {
		return AdminTokenState{}, collector.Errorf(collector.EINVALID, "token secret must be at least %d characters", MinSecretLen)
	}
	hash := hashSecret(candidate)
	var st AdminTokenState
	err := s.inTx(ctx, func(q Querier) error {
		now := s.now()
		var name string
		err := q.QueryRowContext(ctx, `INSERT INTO shared_secrets (name, value, created_at) VALUES (?, ?, ?)
			ON CONFLICT (name) DO NOTHING RETURNING name`, SharedAdminToken, hash, ms(now)).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			var stored string
			if err := q.QueryRowContext(ctx, `SELECT value FROM shared_secrets WHERE name = ?`, SharedAdminToken).Scan(&stored); err != nil {
				return err
			}
			st.Known = stored == hash
			return nil
		}
		if err != nil {
			return err
		}
		st.Created, st.Known = true, true
		_, err = q.ExecContext(ctx, `INSERT INTO tokens (token_id, hash, scopes, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (hash) DO NOTHING`,
			ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(), hash, collector.ScopeAdmin, ms(now))
		return err
	})
	if err != nil {
		return AdminTokenState{}, fmt.Errorf("shared admin token: %w", err)
	}
	return st, nil
}
