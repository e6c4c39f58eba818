package identity_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/identity"
)

// TestVisitorKey: a key is 128 bits of the given reader in base64url, its
// hash the hex SHA-256, and only the key itself matches its hash.
func TestVisitorKey(t *testing.T) {
	key, hash, err := identity.NewVisitorKey(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)))
	if err != nil || key != "_____________________w" {
		t.Fatalf("NewVisitorKey = %q, %v; want the reader's 16 bytes in base64url", key, err)
	}
	if hash != identity.HashVisitorKey(key) || len(hash) != 64 || strings.ToLower(hash) != hash {
		t.Fatalf("hash %q, want the lower-case hex SHA-256 of the key", hash)
	}
	// SHA-256 of "abc", as published in FIPS 180-2.
	if got := identity.HashVisitorKey("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("HashVisitorKey(abc) = %s", got)
	}
	if !identity.VisitorKeyMatches(key, hash) {
		t.Fatal("the key does not match its own hash")
	}
	for _, c := range []struct{ key, hash string }{
		{"_____________________x", hash},
		{"", hash},
		{"", identity.HashVisitorKey("")},
		{key, ""},
		{key, strings.ToUpper(hash)},
		{strings.Repeat("a", 65), identity.HashVisitorKey(strings.Repeat("a", 65))},
	} {
		if identity.VisitorKeyMatches(c.key, c.hash) {
			t.Errorf("VisitorKeyMatches(%q, %q) = true", c.key, c.hash)
		}
	}
	if _, _, err := identity.NewVisitorKey(bytes.NewReader(make([]byte, 15))); err == nil {
		t.Fatal("a reader that ran dry made a key")
	}
	for k, want := range map[string]bool{key: true, key[:21]: false, strings.Repeat("a", 64): true, strings.Repeat("a", 65): false} {
		if got := identity.VisitorKeyWellFormed(k); got != want {
			t.Errorf("VisitorKeyWellFormed(%q) = %v, want %v", k, got, want)
		}
	}
}
