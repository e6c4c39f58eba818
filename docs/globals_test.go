package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoExportedMutableGlobals keeps the rule of
// architecture.md#injectable: no package exports a variable, since any
// importer could change it for every other (a list of metrics, a table of
// levels). Such a value is a function that returns a fresh copy. Error
// sentinels (ErrX, compared with errors.Is) are the one exception.
func TestNoExportedMutableGlobals(t *testing.T) {
	fset := token.NewFileSet()
	for _, root := range []string{"../collector", "../shared", "../tracker", "../web", "../docs"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && (d.Name() == "testdata" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return nil
			}
			f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.VAR {
					continue
				}
				for _, spec := range g.Specs {
					for _, name := range spec.(*ast.ValueSpec).Names {
						if name.IsExported() && !strings.HasPrefix(name.Name, "Err") {
							t.Errorf("%s: var %s is exported and mutable; make it a function that returns a fresh copy",
								fset.Position(name.Pos()), name.Name)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
