package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLinksResolve: every relative link and #anchor in README.md and
// docs/**/*.md leads somewhere, so that moving or renaming a section
// cannot strand the pages (and the code comments) that point at it.
func TestLinksResolve(t *testing.T) {
	files := []string{"README.md"}
	err := filepath.WalkDir("../docs", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		// api-intro.md is a part of api.md, checked there: its links to
		// the generated sections resolve only in the whole.
		if !d.IsDir() && strings.HasSuffix(p, ".md") && filepath.Base(p) != IntroPath {
			files = append(files, strings.TrimPrefix(p, "../"))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	broken, err := CheckLinks("..", files)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range broken {
		t.Error(b)
	}
	if len(files) < 10 {
		t.Fatalf("only %d Markdown files found: %v", len(files), files)
	}
}

// TestCheckLinksFindsBrokenOnes: the checker itself, on a small tree with
// one good and one bad link of each kind.
func TestCheckLinksFindsBrokenOnes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", "# Top\n\nSee [ops](docs/ops.md#the-rate-limit), [gone](docs/gone.md),\n"+
		"[bad anchor](docs/ops.md#nowhere), [self](#top), [self bad](#bottom), [web](https://example.com/x#y).\n"+
		"```\n[in code](docs/nothing.md)\n```\n`[span](docs/nothing.md)`\n")
	write("docs/ops.md", "# Ops\n\n## The rate limit\n\n## Repeat\n\n## Repeat\n\n<a id=\"ack-after-commit\"></a>\n"+
		"[up](../README.md#top) [rule](#ack-after-commit) [second](#repeat-1) [third](#repeat-2)\n"+
		"### `/v1/collect`: HTTP\n[code heading](#v1collect-http)\n")
	broken, err := CheckLinks(dir, []string{"README.md", "docs/ops.md"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range broken {
		got = append(got, b.Target)
	}
	want := []string{"docs/gone.md", "docs/ops.md#nowhere", "#bottom", "#repeat-2"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("broken links %q, want %q", got, want)
	}
}
