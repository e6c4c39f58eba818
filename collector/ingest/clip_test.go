package ingest

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClip(t *testing.T) {
	if got := clip("Mozilla/5.0", 512); got != "Mozilla/5.0" {
		t.Fatalf("short string changed: %q", got)
	}
	long := strings.Repeat("é", 300) // 600 bytes, two per character
	got := clip(long, 511)
	if len(got) != 510 || !utf8.ValidString(got) {
		t.Fatalf("clip to 511: %d bytes, valid %v", len(got), utf8.ValidString(got))
	}
}
