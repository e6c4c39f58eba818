package docs

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestArchitectureListsEveryPackage: docs/architecture.md names every Go
// package of the repository (a folder with a non-test .go file), so that a
// newcomer finds each room in the map; a package added without a line
// there fails here.
func TestArchitectureListsEveryPackage(t *testing.T) {
	arch, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != ".." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules" || name == "build" || name == "bin") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") && !strings.HasSuffix(name, "_test.go") {
			dirs[filepath.ToSlash(filepath.Dir(path))] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 20 {
		t.Fatalf("found %d package folders: the walk is wrong", len(dirs))
	}
	for dir := range dirs {
		rel := strings.TrimPrefix(dir, "../")
		if rel == ".." || rel == "docs" || strings.HasPrefix(rel, "docs/") {
			continue // this package and its generator document themselves
		}
		if !strings.Contains(string(arch), "`"+rel+"`") {
			t.Errorf("docs/architecture.md does not name the package %s", rel)
		}
	}
}
