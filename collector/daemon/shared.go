package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/visitrack/visitrack/collector/store"
)

// The recognition key and the admin token. A SQLite collector keeps them
// in its data directory. Collectors on one PostgreSQL database share them
// through the database (docs/deployment.md): the first node to start
// writes them and every node reads them, so any node can verify what
// another issued and no file is copied between machines.

// recognitionKey returns the key that signs recognition tokens (and
// derives the handoff and cookie keys): VISITRACK_RECOGNITION_KEY when
// set, else <data-dir>/recognition.key, made the first time; on
// PostgreSQL the database's, which the variable, if set, must equal.
func (m *Main) recognitionKey(ctx context.Context) ([]byte, error) {
	path := filepath.Join(m.Config.DataDir, "recognition.key")
	var key string
	var err error
	if m.keyFromEnv != nil && m.Config.Database == "" {
		return m.keyFromEnv, nil
	}
	if m.Config.Database == "" {
		if key, err = secretFile(path, newRecognitionKey); err != nil {
			return nil, fmt.Errorf("recognition key: %w", err)
		}
	} else if key, err = m.sharedRecognitionKey(ctx, path); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(key)
	if err != nil {
		if m.Config.Database != "" {
			return nil, fmt.Errorf("recognition key in the database (table shared_secrets) is not hex: %w", err)
		}
		return nil, fmt.Errorf("recognition key %s is not hex: %w", path, err)
	}
	return raw, nil
}

// sharedRecognitionKey is the database's key. The first node offers the
// key of its data directory when it has one (a collector that ran alone
// before, or whose SQLite data was moved over), so that the tokens
// browsers hold stay valid, else a new one.
func (m *Main) sharedRecognitionKey(ctx context.Context, path string) (string, error) {
	if m.keyFromEnv != nil {
		// The operator's key: the first node stores it; a node whose
		// variable differs from the database's key would refuse every
		// token the others issue.
		env := hex.EncodeToString(m.keyFromEnv)
		key, err := m.store.SharedSecret(ctx, store.SharedRecognitionKey, env)
		if err != nil {
			return "", fmt.Errorf("recognition key: %w", err)
		}
		if key != env {
			return "", fmt.Errorf("%s is not the recognition key the collectors of this database share: "+
				"set it to the same key on every node, or unset it", envRecognitionKey)
		}
		return key, nil
	}
	local, err := readSecret(path)
	if err != nil {
		return "", fmt.Errorf("recognition key: %w", err)
	}
	candidate := local
	if candidate == "" {
		if candidate, err = newRecognitionKey(); err != nil {
			return "", fmt.Errorf("recognition key: %w", err)
		}
	}
	key, err := m.store.SharedSecret(ctx, store.SharedRecognitionKey, candidate)
	if err != nil {
		return "", fmt.Errorf("recognition key: %w", err)
	}
	if local != "" && local != key {
		m.Logger.Warn("recognition key: "+path+" is not used: the collectors of this database share the key kept in it",
			"path", path)
	}
	return key, nil
}

// ensureSharedAdmin settles the admin token on PostgreSQL. A token from
// VISITRACK_ADMIN_TOKEN (set alike on every node: the way to run several)
// is ensured as on SQLite. Without it, the first node makes one, keeps it
// in its <data-dir>/admin.token and prints it once; the database stores
// only its hash, so the other nodes accept it but cannot show it.
func (m *Main) ensureSharedAdmin(ctx context.Context) error {
	if m.adminFromEnv != "" {
		if _, err := m.store.EnsureSharedAdmin(ctx, m.adminFromEnv); err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		return m.ensureAdminToken(ctx, m.adminFromEnv)
	}
	path := filepath.Join(m.Config.DataDir, "admin.token")
	local, err := readSecret(path)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	candidate := local
	if candidate == "" {
		if candidate, err = newAdminToken(); err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
	}
	st, err := m.store.EnsureSharedAdmin(ctx, candidate)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	switch {
	case st.Created && local == "":
		if _, err := secretFile(path, func() (string, error) { return candidate, nil }); err != nil {
			return fmt.Errorf("admin token: %w", err)
		}
		fmt.Fprintf(m.stdout, "admin token of every collector on this database (shown once; kept in %s on this machine, "+
			"only its hash in the database): %s\n", path, candidate)
		m.AdminToken, m.AdminTokenPath = candidate, path
	case st.Known:
		m.AdminToken, m.AdminTokenPath = candidate, path
	default:
		attrs := []any{}
		if local != "" {
			attrs = append(attrs, "ignored", path)
		}
		m.Logger.Info("admin token: the first collector on this database made it (its <data-dir>/admin.token); "+
			"set VISITRACK_ADMIN_TOKEN on every node, or make another with `collector token create --scope admin --database …`",
			attrs...)
		return nil
	}
	m.Logger.Info("admin token", "path", path)
	return nil
}

// readSecret returns the trimmed content of path, "" when there is none.
func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

// newRecognitionKey is 32 random bytes in hex.
func newRecognitionKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// newAdminToken is an API token's secret: "vt_" and 32 random bytes.
func newAdminToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return store.TokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}
