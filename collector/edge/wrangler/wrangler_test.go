package wrangler

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseGzipSize(t *testing.T) {
	out := "\n ⛅️ wrangler 4.86.0\nTotal Upload: 5572.34 KiB / gzip: 1588.98 KiB\nYour Worker has access to …\n"
	got, err := ParseGzipSize(out)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(1627115); got != want /* 1588.98 KiB */ {
		t.Fatalf("ParseGzipSize = %d, want %d", got, want)
	}
	if _, err := ParseGzipSize("Total Upload: 12 KiB\n"); err == nil {
		t.Fatal("ParseGzipSize without a gzip figure: want an error")
	}
}

func TestWriteEnvFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "w.env")
	if err := writeEnvFile(p, map[string]string{"B": "x:y,z", "A": "1"}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), "A=\"1\"\nB=\"x:y,z\"\n"; got != want {
		t.Fatalf("env file = %q, want %q", got, want)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("env file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := writeEnvFile(p, map[string]string{"A": "line\nbreak"}); err == nil {
		t.Fatal("a value with a line break: want an error")
	}
}
