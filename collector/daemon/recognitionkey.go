package daemon

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
)

// envRecognitionKey carries the recognition key in the environment, the
// variable the edge build reads too (docs/edge.md). With it, collectors
// on one PostgreSQL database share a key without a file copied between
// machines, and a collector moved from SQLite keeps the key its tokens
// and cookies were signed with (docs/migrate-to-postgres.md).
const envRecognitionKey = "VISITRACK_RECOGNITION_KEY"

// parseRecognitionKey checks the variable's value: hex, at least 32
// bytes, as the edge requires. "" means the key file.
func parseRecognitionKey(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < 32 {
		return nil, fmt.Errorf("%s must be at least 32 bytes in hex (64 hex digits), such as the content of a data directory's recognition.key or `openssl rand -hex 32`", envRecognitionKey)
	}
	return key, nil
}

// recognitionKey returns the key that signs recognition and handoff
// tokens: VISITRACK_RECOGNITION_KEY when set, else
// <data-dir>/recognition.key, made the first time.
func (m *Main) recognitionKey() ([]byte, error) {
	if m.keyFromEnv != nil {
		return m.keyFromEnv, nil
	}
	path := filepath.Join(m.Config.DataDir, "recognition.key")
	key, err := secretFile(path, func() (string, error) {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		return hex.EncodeToString(b), nil
	})
	if err != nil {
		return nil, fmt.Errorf("recognition key: %w", err)
	}
	raw, err := hex.DecodeString(key)
	if err != nil {
		return nil, fmt.Errorf("recognition key %s is not hex: %w", path, err)
	}
	return raw, nil
}
