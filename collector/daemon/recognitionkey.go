package daemon

import (
	"encoding/hex"
	"fmt"
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
