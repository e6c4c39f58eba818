package identity

import (
	"strings"
	"testing"
)

func TestBlocklistPlaceholders(t *testing.T) {
	b := NewBlocklist(nil)
	for _, id := range []string{
		"", "anonymous", "guest", "null", "undefined", "0", "-1", "none", "unknown", "[object Object]", "NaN",
		// Any case.
		"ANONYMOUS", "Guest", "NULL", "Undefined", "NONE", "UnKnown", "[OBJECT OBJECT]", "nan", "NAN",
		// Trimmed: ASCII and Unicode whitespace, and invisible characters.
		"  guest ", "\tnull\n", "\u00a0undefined\u00a0", "\u3000none\u2003", "\u200bNaN\ufeff", "\u2060-1\u200d",
		"   ", "\u00a0", "\u200b",
	} {
		if !b.Blocks(id) {
			t.Errorf("Blocks(%q) = false, want true", id)
		}
	}
}

func TestBlocklistRealUserIDs(t *testing.T) {
	b := NewBlocklist(nil)
	for _, id := range []string{
		"alice@example.com", "guest@example.com", "guest1", "null-pointer", "00", "1", "-2", "n a n",
		"anonymous user", "[object]", "u-0", "Guest Ann", strings.Repeat("x", 300),
	} {
		if b.Blocks(id) {
			t.Errorf("Blocks(%q) = true, want false", id)
		}
	}
}

func TestBlocklistExtra(t *testing.T) {
	b := NewBlocklist([]string{" Test-User ", "DEMO", "\u00a0"})
	for _, id := range []string{"test-user", "TEST-USER", "  Test-User\u00a0", "demo", "Demo", "guest"} {
		if !b.Blocks(id) {
			t.Errorf("Blocks(%q) = false with the extra values, want true", id)
		}
	}
	if b.Blocks("test-user-2") || b.Blocks("demos") {
		t.Error("an extra value blocks what merely starts with it")
	}
	// The defaults are not affected by another list.
	if NewBlocklist(nil).Blocks("demo") {
		t.Error("an extra value of one Blocklist blocks in another")
	}
}

func TestBlocklistZeroBlocksNothing(t *testing.T) {
	var nilList *Blocklist
	if nilList.Blocks("guest") || (&Blocklist{}).Blocks("guest") {
		t.Error("a nil or zero Blocklist blocks")
	}
}

func BenchmarkBlocklistRealUserID(b *testing.B) {
	l := NewBlocklist(nil)
	b.ReportAllocs()
	for b.Loop() {
		if l.Blocks("alice.smith@example.com") {
			b.Fatal("blocked")
		}
	}
}
