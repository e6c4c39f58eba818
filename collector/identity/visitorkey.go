package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
)

// The browser key (docs/security.md#browser-key) proves that a browser is
// the visitor it names: the collector issues it, the browser keeps it and
// presents it beside its visitorId, and the collector stores only its hash.
// Every part of the collector that issues or checks one does it here, so
// that the rule is written once.

// VisitorKeyBytes is the entropy of a browser key: 128 bits, enough that
// storing its plain SHA-256 is safe (nobody can search that space).
const VisitorKeyBytes = 16

// MinVisitorKeyLen and MaxVisitorKeyLen bound a presented key: 22
// base64url characters carry 128 bits; a longer one than the maximum is
// refused before it is hashed.
const (
	MinVisitorKeyLen = 22
	MaxVisitorKeyLen = 64
)

// NewVisitorKey reads VisitorKeyBytes from rand and returns the key
// (base64url without padding) and the hash to store. rand is the caller's,
// so that tests choose the keys; it fails only when rand does.
func NewVisitorKey(rand io.Reader) (key, hash string, err error) {
	b := make([]byte, VisitorKeyBytes)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", "", fmt.Errorf("make a browser key: %w", err)
	}
	key = base64.RawURLEncoding.EncodeToString(b)
	return key, HashVisitorKey(key), nil
}

// HashVisitorKey is what the store keeps of a key: its SHA-256 in hex.
func HashVisitorKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// VisitorKeyWellFormed reports whether key could be one the collector
// issued, by its length: a browser's first contact may bring a key it
// holds already, and only such a key is kept.
func VisitorKeyWellFormed(key string) bool {
	return len(key) >= MinVisitorKeyLen && len(key) <= MaxVisitorKeyLen
}

// VisitorKeyMatches reports, in constant time, whether key is the one
// whose hash is stored. No key matches an empty hash (a visitor stored
// before keys existed), and an empty or oversize key matches nothing.
func VisitorKeyMatches(key, hash string) bool {
	if key == "" || len(key) > MaxVisitorKeyLen || hash == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(HashVisitorKey(key)), []byte(hash)) == 1
}
