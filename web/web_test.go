package web

import (
	"io"
	"net/http"
	"net/http/httptest"
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
		hasVariants := strings.Contains(c.path, "gt.js") || strings.Contains(c.path, "tracker")
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
	for _, p := range []string{"/secret.txt", "/gt.js.br", "/tracker.0123456789ab.wasm.br", "/demo/missing.html", "/demo/../secret.txt", "/tracker.zzzzzzzzzzzz.wasm", "/"} {
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
