// Command apidocs writes docs/api.md, the REST API reference, from
// collector/api/openapi.json and the hand-written docs/api-intro.md
// (`go generate ./docs`, which runs it in docs/). The docs package's test
// fails while the file it would write differs from the one committed.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/visitrack/visitrack/docs"
)

func main() {
	dir := flag.String("dir", ".", "the docs directory (the repository's docs/)")
	flag.Parse()
	if err := run(*dir); err != nil {
		fmt.Fprintln(os.Stderr, "apidocs:", err)
		os.Exit(1)
	}
}

func run(dir string) error {
	spec, err := os.ReadFile(filepath.Join(dir, docs.OpenAPIPath))
	if err != nil {
		return err
	}
	intro, err := os.ReadFile(filepath.Join(dir, docs.IntroPath))
	if err != nil {
		return err
	}
	out, err := docs.APIReference(spec, intro)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, docs.APIPath), out, 0o644)
}
