// Command webassets prepares web/static for embedding, at build time (make
// web-assets): it names the tracker, Go's wasm_exec.js and the DSL reader
// gt-dsl.js by their content hash, writes gt.js from the loader template
// with those names (and the reader's Subresource Integrity hash, which gt.js
// sets on the script it loads), and precompresses every text and wasm file
// with brotli (the brotli command) and gzip, so that the collector never
// compresses on the fly.
//
//	webassets -wasm build/tracker.wasm -exec $(go env GOROOT)/lib/wasm/wasm_exec.js \
//	          -loader web/loader/gt.js -dsl web/loader/gt-dsl.js -out web/static
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

func main() {
	wasm := flag.String("wasm", "build/tracker.wasm", "the tracker, built for js/wasm")
	execJS := flag.String("exec", "", "Go's wasm_exec.js, from the Go that built the tracker")
	loader := flag.String("loader", "web/loader/gt.js", "the loader template")
	dsl := flag.String("dsl", "web/loader/gt-dsl.js", "the DSL reader gt.js loads for dslResource")
	out := flag.String("out", "web/static", "the directory the collector embeds")
	flag.Parse()
	if err := run(*wasm, *execJS, *loader, *dsl, *out); err != nil {
		fmt.Fprintln(os.Stderr, "webassets:", err)
		os.Exit(1)
	}
}

func run(wasm, execJS, loader, dsl, out string) error {
	if execJS == "" {
		return errors.New("-exec is required")
	}
	// Old generated files go first, so that a stale hash is never embedded.
	for _, pattern := range []string{"tracker*.wasm*", "wasm_exec*.js*", "gt.js*", "gt-dsl.*.js*"} {
		old, _ := filepath.Glob(filepath.Join(out, pattern))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				return err
			}
		}
	}
	trackerName, err := copyHashed(wasm, out, "tracker.", ".wasm")
	if err != nil {
		return err
	}
	execName, err := copyHashed(execJS, out, "wasm_exec.", ".js")
	if err != nil {
		return err
	}
	dslName, err := copyHashed(dsl, out, "gt-dsl.", ".js")
	if err != nil {
		return err
	}
	dslSRI, err := integrity(filepath.Join(out, dslName))
	if err != nil {
		return err
	}
	tmpl, err := os.ReadFile(loader)
	if err != nil {
		return err
	}
	for _, p := range []string{"__TRACKER__", "__WASM_EXEC__", "__DSL_JS__", "__DSL_SRI__"} {
		if !bytes.Contains(tmpl, []byte(p)) {
			return fmt.Errorf("%s: no %s to fill in", loader, p)
		}
	}
	gt := strings.NewReplacer("__TRACKER__", trackerName, "__WASM_EXEC__", execName,
		"__DSL_JS__", dslName, "__DSL_SRI__", dslSRI).Replace(string(tmpl))
	if err := os.WriteFile(filepath.Join(out, "gt.js"), []byte(gt), 0o644); err != nil {
		return err
	}
	return filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !compressible(path) {
			return err
		}
		return compress(path)
	})
}

// copyHashed copies src into dir as prefix<hash>suffix and returns the name.
func copyHashed(src, dir, prefix, suffix string) (string, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	name := prefix + hex.EncodeToString(sum[:6]) + suffix
	return name, os.WriteFile(filepath.Join(dir, name), b, 0o644)
}

// integrity is the Subresource Integrity value of the file at path
// (sha384, as browsers check it).
func integrity(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha512.Sum384(b)
	return "sha384-" + base64.StdEncoding.EncodeToString(sum[:]), nil
}

func compressible(path string) bool {
	switch filepath.Ext(path) {
	case ".wasm", ".js", ".html", ".css", ".svg", ".json", ".txt":
		return true
	}
	return false
}

// compress writes path.gz and path.br next to path.
func compress(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(b)
	if err := zw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(path+".gz", gz.Bytes(), 0o644); err != nil {
		return err
	}
	cmd := exec.Command("brotli", "-q", "11", "-f", "-o", path+".br", path)
	if outp, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("brotli %s: %v: %s", path, err, outp)
	}
	return nil
}
