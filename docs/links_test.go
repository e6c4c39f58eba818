package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
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

// TestCodeCitationsResolve: the code's comments cite docs pages and their
// anchors ("docs/security.md#browser-key"), and every such citation leads
// to a page and an anchor that exist, so that a reworded heading cannot
// leave a rule's comment pointing nowhere.
func TestCodeCitationsResolve(t *testing.T) {
	cite := regexp.MustCompile(`docs/([a-z0-9-]+\.md)(#[A-Za-z0-9_-]+)?`)
	exts := map[string]bool{".go": true, ".js": true, ".mjs": true, ".sql": true, ".mk": true, ".json": true}
	found := 0
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", ".git", "build", ".wrangler", "testdata":
				return filepath.SkipDir
			}
			if p == "../docs" { // the pages themselves: TestLinksResolve
				return filepath.SkipDir
			}
			return nil
		}
		if !exts[filepath.Ext(p)] && d.Name() != "Makefile" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, m := range cite.FindAllStringSubmatch(line, -1) {
				found++
				page, frag := m[1], strings.TrimPrefix(m[2], "#")
				text, err := os.ReadFile(page)
				if err != nil {
					t.Errorf("%s:%d cites %s: no such page", p, i+1, m[0])
					continue
				}
				if frag != "" && !Anchors(string(text))[frag] {
					t.Errorf("%s:%d cites %s: no such anchor", p, i+1, m[0])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found == 0 {
		t.Fatal("no citation of docs/ found in the code")
	}
}
