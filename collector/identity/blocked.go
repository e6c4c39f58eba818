package identity

import (
	"strings"
	"unicode"
)

// placeholderUserIDs are the values sites send as a userId when they have
// none: an unset variable stringified by JavaScript, a guest account, a
// database's "no user". Linking them would merge every visitor who sent
// one into a single identity (docs/identity.md#blocked-identifiers).
func placeholderUserIDs() []string {
	return []string{"", "anonymous", "guest", "null", "undefined", "0", "-1",
		"none", "unknown", "[object object]", "nan"}
}

// Blocklist decides which userIds link nobody. The zero value blocks
// nothing; NewBlocklist blocks the placeholders and the operator's own
// values (--blocked-user-ids). It is read-only once made, so safe for
// concurrent use.
type Blocklist struct {
	ids map[string]struct{}
	// longest bounds the values worth folding: a longer userId is not
	// blocked, and costs no allocation to say so.
	longest int
}

// NewBlocklist returns a Blocklist of the placeholders and extra. Extra
// values are compared as userIds are: trimmed and case-insensitive.
func NewBlocklist(extra []string) *Blocklist {
	b := &Blocklist{ids: map[string]struct{}{}}
	for _, list := range [][]string{placeholderUserIDs(), extra} {
		for _, v := range list {
			v = foldUserID(v)
			b.ids[v] = struct{}{}
			b.longest = max(b.longest, len(v))
		}
	}
	return b
}

// Blocks reports whether userID is one that links nobody: after trimming
// whitespace (Unicode's, and the invisible zero-width characters a copy
// and paste brings along), it equals a blocked value in any case.
func (b *Blocklist) Blocks(userID string) bool {
	if b == nil || b.ids == nil {
		return false
	}
	t := strings.TrimFunc(userID, blank)
	// Lower-casing may shrink a string's bytes (U+212A, the Kelvin sign,
	// is 3 bytes, its "k" is 1), so the bound allows for it.
	if len(t) > 3*b.longest {
		return false
	}
	_, ok := b.ids[strings.ToLower(t)]
	return ok
}

// foldUserID is the form userIds are compared in.
func foldUserID(s string) string {
	return strings.ToLower(strings.TrimFunc(s, blank))
}

// blank is whitespace, or a character that shows as nothing: zero-width
// space, joiners, word joiner, byte order mark.
func blank(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff':
		return true
	}
	return unicode.IsSpace(r)
}
