package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// static holds the committed demo and console, and what make web-assets
// generates: gt.js, tracker.<hash>.wasm, wasm_exec.<hash>.js, gt-dsl.<hash>.js and the .br
// and .gz variants of every text and wasm file.
//
//go:embed all:static
var static embed.FS

// Cache lifetimes. Hashed names never change content; gt.js and the
// unhashed aliases point at the current tracker, so they expire soon.
const (
	cacheImmutable = "public, max-age=31536000, immutable"
	cacheShort     = "public, max-age=300"
	cachePage      = "no-cache"
)

// Options configure New.
type Options struct {
	// Dir, when set, serves the files from this directory (web/static) on
	// every request instead of the embedded copy: for working on the demo
	// without rebuilding the collector.
	Dir string
}

// Handler serves the embedded files: /gt.js, /tracker.wasm and
// /tracker.<hash>.wasm, /wasm_exec.js and /wasm_exec.<hash>.js,
// /gt-dsl.js and /gt-dsl.<hash>.js (the DSL reader gt.js loads for
// dslResource), /demo/ and /console/. Mount it at the root; it answers 404
// for other paths.
func Handler() http.Handler { return New(Options{}) }

// New returns the handler for opt.
func New(opt Options) http.Handler {
	if opt.Dir != "" {
		return &handler{fsys: os.DirFS(opt.Dir)}
	}
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the directory is embedded: it exists
	}
	return &handler{fsys: sub, cache: &sync.Map{}}
}

type handler struct {
	fsys  fs.FS
	cache *sync.Map // name → *file, for the embedded files only
}

// file is one servable file and its precompressed variants.
type file struct {
	data, br, gz []byte
	etag         string
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if clean := path.Clean(p); clean != p && clean+"/" != p {
		http.NotFound(w, r) // no dot segments or doubled slashes
		return
	}
	name, cacheControl, public := "", cachePage, false
	switch {
	case p == "/gt.js":
		name, cacheControl, public = "gt.js", cacheShort, true
	case p == "/tracker.wasm":
		name, cacheControl, public = h.hashed("tracker.", ".wasm"), cacheShort, true
	case p == "/wasm_exec.js":
		name, cacheControl, public = h.hashed("wasm_exec.", ".js"), cacheShort, true
	case p == "/gt-dsl.js":
		name, cacheControl, public = h.hashed("gt-dsl.", ".js"), cacheShort, true
	case isHashed(p, "/tracker.", ".wasm") || isHashed(p, "/wasm_exec.", ".js") || isHashed(p, "/gt-dsl.", ".js"):
		name, cacheControl, public = p[1:], cacheImmutable, true
	case p == "/demo" || p == "/console":
		http.Redirect(w, r, p+"/", http.StatusMovedPermanently)
		return
	case strings.HasPrefix(p, "/demo/") || strings.HasPrefix(p, "/console/"):
		name = p[1:]
		if strings.HasSuffix(p, "/") {
			name += "index.html"
		}
	}
	if name == "" || strings.HasSuffix(name, ".br") || strings.HasSuffix(name, ".gz") {
		http.NotFound(w, r)
		return
	}
	f, err := h.open(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", contentType(name))
	hd.Set("Cache-Control", cacheControl)
	hd.Set("X-Content-Type-Options", "nosniff")
	if public {
		// The tracker is loaded by other origins' pages, and fetched (the
		// wasm) with CORS; it is public and sent without credentials.
		hd.Set("Access-Control-Allow-Origin", "*")
		hd.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	body, etag := f.data, f.etag
	if f.br != nil || f.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		ae := r.Header.Get("Accept-Encoding")
		switch {
		case f.br != nil && accepts(ae, "br"):
			body, etag = f.br, f.etag+"-br"
			hd.Set("Content-Encoding", "br")
		case f.gz != nil && accepts(ae, "gzip"):
			body, etag = f.gz, f.etag+"-gz"
			hd.Set("Content-Encoding", "gzip")
		}
	}
	hd.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// hashed finds the content-hashed name of a generated file, or "".
func (h *handler) hashed(prefix, suffix string) string {
	names, _ := fs.Glob(h.fsys, prefix+"*"+suffix)
	for _, n := range names {
		if isHashed("/"+n, "/"+prefix, suffix) {
			return n
		}
	}
	return ""
}

// isHashed reports whether p is prefix + 12 hex digits + suffix.
func isHashed(p, prefix, suffix string) bool {
	if !strings.HasPrefix(p, prefix) || !strings.HasSuffix(p, suffix) || len(p) != len(prefix)+12+len(suffix) {
		return false
	}
	_, err := hex.DecodeString(p[len(prefix) : len(prefix)+12])
	return err == nil
}

func (h *handler) open(name string) (*file, error) {
	if h.cache != nil {
		if f, ok := h.cache.Load(name); ok {
			return f.(*file), nil
		}
	}
	data, err := fs.ReadFile(h.fsys, name)
	if err != nil {
		return nil, err
	}
	f := &file{data: data}
	f.br, _ = fs.ReadFile(h.fsys, name+".br")
	f.gz, _ = fs.ReadFile(h.fsys, name+".gz")
	sum := sha256.Sum256(data)
	f.etag = hex.EncodeToString(sum[:8])
	if h.cache != nil {
		h.cache.Store(name, f)
	}
	return f, nil
}

// accepts reports whether an Accept-Encoding header allows coding: listed
// with a q above 0, or covered by "*".
func accepts(header, coding string) bool {
	star := false
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		name = strings.ToLower(strings.TrimSpace(name))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		switch name {
		case coding:
			return q > 0
		case "*":
			star = q > 0
		}
	}
	return star
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".wasm":
		return "application/wasm"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".html":
		return "text/html; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	case ".json":
		return "application/json"
	case ".png":
		return "image/png"
	case ".ico":
		return "image/x-icon"
	}
	return "application/octet-stream"
}
