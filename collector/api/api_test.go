package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// env is a real API over a real SQLite file with the storetest fixture,
// served on a loopback port, and tokens of every kind.
type env struct {
	t   *testing.T
	s   *store.Store
	f   *storetest.Fixture
	h   *Handler
	srv *httptest.Server
	log *syncBuffer

	read, del, admin, other, revoked string // token secrets
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// newEnv starts the API; extra, if given, registers more routes before
// the server starts (as the visitor-data files do).
func newEnv(t *testing.T, extra ...func(h *Handler)) *env {
	t.Helper()
	ctx := context.Background()
	e := &env{t: t, s: storetest.New(t), log: &syncBuffer{}}
	e.f = storetest.Seed(t, e.s)
	var last *collector.Token
	token := func(scopes ...string) string {
		tok, secret, err := e.s.CreateToken(ctx, scopes)
		if err != nil {
			t.Fatal(err)
		}
		last = tok
		return secret
	}
	e.read = token(collector.ScopeHistoryRead)
	e.del = token(collector.ScopeHistoryDelete)
	e.admin = token(collector.ScopeAdmin)
	e.other = token(collector.ScopeVisitorDataRead, collector.ScopeMetadataRead)
	e.revoked = token(collector.ScopeHistoryRead)
	if err := e.s.RevokeToken(ctx, last.TokenID); err != nil {
		t.Fatal(err)
	}
	e.h = New(Config{History: e.s, Tokens: e.s, Logger: slog.New(slog.NewTextHandler(e.log, nil))})
	for _, fn := range extra {
		fn(e.h)
	}
	e.srv = httptest.NewServer(e.h)
	t.Cleanup(e.srv.Close)
	return e
}

// response is a finished request.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (e *env) do(method, path, token string) *response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &response{status: res.StatusCode, header: res.Header, body: body}
}

func (e *env) get(path string) *response { e.t.Helper(); return e.do("GET", path, e.read) }

// ok decodes a 200 JSON answer into v.
func (r *response) ok(t *testing.T, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
}

// problem checks an RFC 9457 answer with status and code, and returns its
// detail.
func (r *response) problem(t *testing.T, status int, code string) string {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json", ct)
	}
	var p map[string]any
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%v: %s", err, r.body)
	}
	if keys := sortedKeys(p); !slices.Equal(keys, []string{"code", "detail", "status", "title", "type"}) {
		t.Errorf("problem fields %v", keys)
	}
	if p["type"] != "about:blank" || p["title"] != http.StatusText(status) || p["status"] != float64(status) || p["code"] != code {
		t.Errorf("problem %v, want status %d code %q", p, status, code)
	}
	detail, _ := p["detail"].(string)
	if detail == "" {
		t.Error("problem without detail")
	}
	return detail
}

func sortedKeys(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t)
	for name, header := range map[string]string{
		"no header":      "",
		"basic":          "Basic dXNlcjpwYXNz",
		"empty bearer":   "Bearer ",
		"unknown token":  "Bearer vt_unknown",
		"revoked token":  "Bearer " + e.revoked,
		"token as basic": "Basic " + e.read,
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/v1/visits", nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		r := &response{status: res.StatusCode, header: res.Header, body: body}
		t.Run(name, func(t *testing.T) {
			r.problem(t, http.StatusUnauthorized, collector.EUNAUTHORIZED)
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q", got)
			}
		})
	}

	// The scheme is case-insensitive.
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/visits", nil)
	req.Header.Set("Authorization", "bearer "+e.read)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: %v %v", res.StatusCode, err)
	} else {
		res.Body.Close()
	}

	// Scopes: reading needs history:read, deleting history:delete; admin
	// may do both.
	e.do("GET", "/v1/visits", e.other).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	e.do("GET", "/v1/visits/"+e.f.V1, e.del).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	e.do("DELETE", "/v1/identities/"+e.f.Alice, e.read).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	e.do("DELETE", "/v1/visitors/"+e.f.VisitorB, e.other).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	if r := e.do("GET", "/v1/visits/"+e.f.V1, e.admin); r.status != http.StatusOK {
		t.Errorf("admin read: %d %s", r.status, r.body)
	}
	// Authentication comes before the lookup: no 404 leaks to strangers.
	e.do("GET", "/v1/visits/"+storetest.ID(2, 99), "").problem(t, http.StatusUnauthorized, collector.EUNAUTHORIZED)
}

func TestUnknownRouteAndMethod(t *testing.T) {
	e := newEnv(t)
	e.get("/v1/nothing-here").problem(t, http.StatusNotFound, collector.ENOTFOUND)
	e.get("/v1/visits/"+e.f.V1+"/unknown").problem(t, http.StatusNotFound, collector.ENOTFOUND)

	r := e.do("POST", "/v1/visits", e.admin)
	r.problem(t, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") {
		t.Errorf("Allow %q", allow)
	}
	r = e.do("PUT", "/v1/identities/"+e.f.Alice, e.admin)
	r.problem(t, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := r.header.Get("Allow"); !strings.Contains(allow, "GET") || !strings.Contains(allow, "DELETE") {
		t.Errorf("Allow %q", allow)
	}
	e.do("DELETE", "/v1/visits/"+e.f.V1, e.admin).problem(t, http.StatusMethodNotAllowed, "method_not_allowed")
}

func TestInternalErrorIsLoggedNotShown(t *testing.T) {
	e := newEnv(t)
	e.s.DB().Close()
	// The token check itself now fails: a 500, not a 401.
	detail := e.get("/v1/visits").problem(t, http.StatusInternalServerError, collector.EINTERNAL)
	if detail != "internal error" {
		t.Errorf("detail %q shows internals", detail)
	}
	if log := e.log.String(); !strings.Contains(log, "database is closed") || !strings.Contains(log, "path=/v1/visits") {
		t.Errorf("log lacks the internal error: %q", log)
	}
}

// TestHandle registers a route as the visitor-data files do, with a scope
// that depends on the request.
func TestHandle(t *testing.T) {
	var seen *collector.Token
	e := newEnv(t, func(h *Handler) {
		h.Handle("PUT /v1/test/{ns}", "", func(w http.ResponseWriter, r *http.Request) error {
			if err := RequireScope(r, collector.ScopeVisitorDataWrite+r.PathValue("ns")); err != nil {
				return err
			}
			seen = TokenFrom(r.Context())
			body, err := readBody(w, r, 8, "application/json", "application/merge-patch+json")
			if err != nil {
				return err
			}
			return writeJSON(w, http.StatusOK, map[string]string{"got": string(body)})
		})
	})
	_, ns, err := e.s.CreateToken(context.Background(), []string{"visitordata:write:campaign"})
	if err != nil {
		t.Fatal(err)
	}
	put := func(path, token, ctype, body string) *response {
		req, _ := http.NewRequest("PUT", e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return &response{status: res.StatusCode, header: res.Header, body: b}
	}
	var out map[string]string
	put("/v1/test/campaign", ns, "application/merge-patch+json", `{"a":1}`).ok(t, &out)
	if out["got"] != `{"a":1}` || seen == nil || !seen.HasScope("visitordata:write:campaign") {
		t.Errorf("out %v token %+v", out, seen)
	}
	put("/v1/test/other", ns, "application/json", `{}`).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	put("/v1/test/campaign", "nope", "application/json", `{}`).problem(t, http.StatusUnauthorized, collector.EUNAUTHORIZED)
	put("/v1/test/campaign", ns, "text/plain", `{}`).problem(t, http.StatusUnsupportedMediaType, collector.EUNSUPPORTEDMEDIA)
	put("/v1/test/campaign", ns, "", `{}`).problem(t, http.StatusUnsupportedMediaType, collector.EUNSUPPORTEDMEDIA)
	put("/v1/test/campaign", ns, "application/json; charset=utf-8", `{"a":"long"}`).problem(t, http.StatusRequestEntityTooLarge, collector.ETOOLARGE)
	put("/v1/test/campaign", e.admin, "application/json; charset=utf-8", `[]`).ok(t, &out)
}
