package web

import (
	"crypto/sha512"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

const hash = "0123456789ab"

func testHandler() http.Handler {
	return &handler{fsys: fstest.MapFS{
		"gt.js":                        {Data: []byte("loader")},
		"gt.js.br":                     {Data: []byte("loader-br")},
		"gt.js.gz":                     {Data: []byte("loader-gz")},
		"tracker." + hash + ".wasm":    {Data: []byte("\x00asm")},
		"tracker." + hash + ".wasm.br": {Data: []byte("wasm-br")},
		"tracker." + hash + ".wasm.gz": {Data: []byte("wasm-gz")},
		"wasm_exec." + hash + ".js":    {Data: []byte("exec")},
		"gt-dsl." + hash + ".js":       {Data: []byte("dsl")},
		"gt-dsl." + hash + ".js.br":    {Data: []byte("dsl-br")},
		"gt-dsl." + hash + ".js.gz":    {Data: []byte("dsl-gz")},
		"demo/index.html":              {Data: []byte("<h1>shop</h1>")},
		"demo/demo.css":                {Data: []byte("body{}")},
		"console/index.html":           {Data: []byte("console")},
		"secret.txt":                   {Data: []byte("no")},
	}}
}

func get(t *testing.T, h http.Handler, path, acceptEncoding string) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Result(), string(b)
}

func TestServesTrackerFiles(t *testing.T) {
	h := testHandler()
	cases := []struct {
		path, ae, body, encoding, ctype, cache string
	}{
		{"/gt.js", "gzip, deflate, br", "loader-br", "br", "text/javascript; charset=utf-8", cacheShort},
		{"/gt.js", "gzip", "loader-gz", "gzip", "text/javascript; charset=utf-8", cacheShort},
		{"/gt.js", "", "loader", "", "text/javascript; charset=utf-8", cacheShort},
		{"/gt.js", "br;q=0, gzip;q=0.5", "loader-gz", "gzip", "text/javascript; charset=utf-8", cacheShort},
		{"/gt.js", "*", "loader-br", "br", "text/javascript; charset=utf-8", cacheShort},
		{"/gt.js", "identity", "loader", "", "text/javascript; charset=utf-8", cacheShort},
		{"/tracker." + hash + ".wasm", "br", "wasm-br", "br", "application/wasm", cacheImmutable},
		{"/tracker.wasm", "gzip", "wasm-gz", "gzip", "application/wasm", cacheShort},
		{"/wasm_exec.js", "br", "exec", "", "text/javascript; charset=utf-8", cacheShort},
		{"/wasm_exec." + hash + ".js", "", "exec", "", "text/javascript; charset=utf-8", cacheImmutable},
		{"/gt-dsl." + hash + ".js", "br", "dsl-br", "br", "text/javascript; charset=utf-8", cacheImmutable},
		{"/gt-dsl." + hash + ".js", "", "dsl", "", "text/javascript; charset=utf-8", cacheImmutable},
		{"/gt-dsl.js", "gzip", "dsl-gz", "gzip", "text/javascript; charset=utf-8", cacheShort},
		{"/demo/", "", "<h1>shop</h1>", "", "text/html; charset=utf-8", cachePage},
		{"/demo/demo.css", "", "body{}", "", "text/css; charset=utf-8", cachePage},
		{"/console/", "", "console", "", "text/html; charset=utf-8", cachePage},
	}
	for _, c := range cases {
		res, body := get(t, h, c.path, c.ae)
		if res.StatusCode != 200 || body != c.body || res.Header.Get("Content-Encoding") != c.encoding ||
			res.Header.Get("Content-Type") != c.ctype || res.Header.Get("Cache-Control") != c.cache {
			t.Errorf("GET %s (Accept-Encoding %q): %d %q encoding %q type %q cache %q", c.path, c.ae, res.StatusCode, body,
				res.Header.Get("Content-Encoding"), res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
		}
		hasVariants := strings.Contains(c.path, "gt.js") || strings.Contains(c.path, "tracker") || strings.Contains(c.path, "gt-dsl")
		if got := res.Header.Get("Vary") == "Accept-Encoding"; got != hasVariants {
			t.Errorf("GET %s: Vary %q", c.path, res.Header.Get("Vary"))
		}
		if public := !strings.HasPrefix(c.path, "/demo") && !strings.HasPrefix(c.path, "/console"); public != (res.Header.Get("Access-Control-Allow-Origin") == "*") {
			t.Errorf("GET %s: CORS %q", c.path, res.Header.Get("Access-Control-Allow-Origin"))
		}
	}
}

func TestConditionalAndErrors(t *testing.T) {
	h := testHandler()
	res, _ := get(t, h, "/tracker.wasm", "br")
	etag := res.Header.Get("ETag")
	if etag == "" || !strings.HasSuffix(etag, `-br"`) {
		t.Fatalf("ETag %q", etag)
	}
	req := httptest.NewRequest("GET", "/tracker.wasm", nil)
	req.Header.Set("Accept-Encoding", "br")
	req.Header.Set("If-None-Match", etag)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Fatalf("If-None-Match: %d", rec.Code)
	}
	for _, p := range []string{"/secret.txt", "/gt.js.br", "/tracker.0123456789ab.wasm.br", "/gt-dsl.0123456789ab.js.br", "/gt-dsl.zzzzzzzzzzzz.js", "/demo/missing.html", "/demo/../secret.txt", "/tracker.zzzzzzzzzzzz.wasm", "/"} {
		if res, _ := get(t, h, p, ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
		}
	}
	if res, _ := get(t, h, "/demo", ""); res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/demo/" {
		t.Errorf("GET /demo: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("POST", "/gt.js", nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// The embedded files: the demo and console are committed, so they are
// there even before make web-assets.
func TestEmbeddedDemo(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/demo/", "/demo/login.html", "/demo/demo.js", "/console/"} {
		if res, body := get(t, h, p, ""); res.StatusCode != 200 || len(body) == 0 {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
	}
	res, body := get(t, New(Options{Dir: "static"}), "/demo/index.html", "")
	if res.StatusCode != 200 || !strings.Contains(body, "/gt.js") {
		t.Errorf("dev mode: %d", res.StatusCode)
	}
}

// The built gt.js loads the DSL reader by the hashed name and with the
// integrity make web-assets wrote in; the collector serves that name, with
// the bytes whose sha384 the browser will check, cached for good.
func TestEmbeddedDSLReader(t *testing.T) {
	h := Handler()
	res, gt := get(t, h, "/gt.js", "")
	if res.StatusCode != 200 {
		t.Fatalf("GET /gt.js: %d (make web-assets has not run?)", res.StatusCode)
	}
	name := regexp.MustCompile(`q\.base \+ '(gt-dsl\.[0-9a-f]{12}\.js)'`).FindStringSubmatch(gt)
	sri := regexp.MustCompile(`\.integrity = '(sha384-[A-Za-z0-9+/]+=*)'`).FindStringSubmatch(gt)
	if name == nil || sri == nil || strings.Contains(gt, "__DSL_") {
		t.Fatalf("gt.js does not name the DSL reader and its integrity (name %q, integrity %q)", name, sri)
	}
	res, dsl := get(t, h, "/"+name[1], "")
	if res.StatusCode != 200 || res.Header.Get("Cache-Control") != cacheImmutable || res.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Fatalf("GET /%s: %d cache %q CORS %q", name[1], res.StatusCode, res.Header.Get("Cache-Control"), res.Header.Get("Access-Control-Allow-Origin"))
	}
	sum := sha512.Sum384([]byte(dsl))
	if got := "sha384-" + base64.StdEncoding.EncodeToString(sum[:]); got != sri[1] {
		t.Errorf("gt.js says integrity %s; the served reader is %s", sri[1], got)
	}
	if !strings.Contains(dsl, "q.dsl = {") {
		t.Errorf("/%s is not the DSL reader", name[1])
	}
	if res, alias := get(t, h, "/gt-dsl.js", ""); res.StatusCode != 200 || alias != dsl || res.Header.Get("Cache-Control") != cacheShort {
		t.Errorf("GET /gt-dsl.js: %d cache %q, same body %v", res.StatusCode, res.Header.Get("Cache-Control"), alias == dsl)
	}
}
