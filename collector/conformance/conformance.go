// Package conformance is the collector's HTTP API contract as a test suite
// that runs against a base URL: the native collector and the edge build
// (Cloudflare Workers under `wrangler dev`) must both pass it. It covers
// POST /v1/collect (docs/protocol.md), the History API and visitor data
// (docs/api.md), the WebSocket transport (ws.go), the trust rules
// (docs/security.md: proofs, browser keys, SignOut revocation), and the errors both answer with.
//
// The suite only talks HTTP, so it checks the wire contract itself: field
// names and status codes as the docs write them, not Go types. Every run
// makes its own visitors and users, so it can share a database with
// earlier runs.
package conformance

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
)

// Target is a running collector.
type Target struct {
	// BaseURL is where it serves, e.g. http://127.0.0.1:8787.
	BaseURL string
	// AdminToken is a bearer token with the admin scope.
	AdminToken string
	// Origin is one of its allowed origins, e.g. http://shop.example.
	Origin string
	// Tokens maps each scope of NeededScopes to a token that has that
	// scope alone, for the 403 checks.
	Tokens map[string]string
	// IdentitySecret is the collector's identity secret: the suite proves
	// its sign-ins with it, as a site's backend does.
	IdentitySecret string
	// IdentityAudience is the collector's signInToken audience; empty is
	// the default (identity.DefaultAudience).
	IdentityAudience string
	// Client makes the requests; http.DefaultClient when nil.
	Client *http.Client
}

// NeededScopes returns the scopes Target.Tokens must hold single-scope
// tokens for.
func NeededScopes() []string { return []string{"history:read", "visitordata:read"} }

// Run runs the whole suite against target, each area as a subtest.
func Run(t *testing.T, target Target) {
	if target.Client == nil {
		target.Client = http.DefaultClient
	}
	for _, sc := range NeededScopes() {
		if target.Tokens[sc] == "" {
			t.Fatalf("conformance: Target.Tokens needs a token with the single scope %q", sc)
		}
	}
	if target.IdentitySecret == "" {
		t.Fatal("conformance: Target.IdentitySecret is required (the identity story signs in with a proof)")
	}
	s := &suite{Target: target, run: strings.ToLower(ulid.Make().String()[16:])}
	t.Run("Health", s.testHealth)
	t.Run("Collect", s.testCollect)
	t.Run("CollectContentTypes", s.testCollectContentTypes)
	t.Run("CORS", s.testCORS)
	t.Run("Dedup", s.testDedup)
	t.Run("BadEvents", s.testBadEvents)
	t.Run("BadBatches", s.testBadBatches)
	t.Run("HostileTimes", s.testHostileTimes)
	t.Run("IDCase", s.testIDCase)
	t.Run("PageOwnership", s.testPageOwnership)
	t.Run("EventData", s.testEventData)
	t.Run("IdentityStory", s.testIdentityStory)
	t.Run("Claims", s.testClaims)
	t.Run("UnprovenSignIn", s.testUnprovenSignIn)
	t.Run("ProofFormats", s.testProofFormats)
	t.Run("BrowserKey", s.testBrowserKey)
	t.Run("SignOutRevokes", s.testSignOutRevokes)
	t.Run("Handoff", s.testHandoff)
	t.Run("History", s.testHistory)
	t.Run("Pagination", s.testPagination)
	t.Run("VisitorData", s.testVisitorData)
	t.Run("VisitorDataInCollect", s.testVisitorDataInCollect)
	t.Run("Metadata", s.testMetadata)
	t.Run("Auth", s.testAuth)
	t.Run("Erasure", s.testErasure)
	t.Run("Merge", s.testMerge)
	t.Run("PagesAndURLs", s.testPagesAndURLs)
	t.Run("WebSocket", s.testWebSocket)
}

type suite struct {
	Target
	// run tells this run's users apart from earlier runs' in a shared
	// database.
	run string
}

// response is a finished HTTP exchange.
type response struct {
	method, path string
	Status       int
	Header       http.Header
	Body         []byte
}

// req describes a request; zero fields are left out.
type req struct {
	method, path string
	token        string
	contentType  string
	body         any // []byte and string are sent as they are, else JSON
	header       map[string]string
}

func (s *suite) do(t *testing.T, r req) *response {
	t.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	case string:
		body = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
		body = bytes.NewReader(j)
		if r.contentType == "" {
			r.contentType = "application/json"
		}
	}
	hr, err := http.NewRequest(r.method, s.BaseURL+r.path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := s.Client.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", r.method, r.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", r.method, r.path, err)
	}
	return &response{method: r.method, path: r.path, Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// get is an admin GET.
func (s *suite) get(t *testing.T, path string) *response {
	t.Helper()
	return s.do(t, req{method: "GET", path: path, token: s.AdminToken})
}

// getJSON is an admin GET that must answer 200 with JSON, decoded into v.
func (s *suite) getJSON(t *testing.T, path string, v any) *response {
	t.Helper()
	r := s.get(t, path)
	r.want(t, http.StatusOK)
	r.decode(t, v)
	return r
}

func (r *response) String() string {
	b := r.Body
	if len(b) > 2000 {
		b = append(b[:2000:2000], "…"...)
	}
	return r.method + " " + r.path + ": " + http.StatusText(r.Status) + " " + string(b)
}

// want fails the test unless the status is status.
func (r *response) want(t *testing.T, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d", r, r.Status, status)
	}
}

// decode decodes a JSON answer into v.
func (r *response) decode(t *testing.T, v any) {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: Content-Type %q, want application/json", r, ct)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("%s: %v", r, err)
	}
}

// problem is an RFC 9457 problem details object.
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// wantProblem fails the test unless the answer is problem details with
// this status, and returns it.
func (r *response) wantProblem(t *testing.T, status int) problem {
	t.Helper()
	r.want(t, status)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("%s: Content-Type %q, want application/problem+json", r, ct)
	}
	var p problem
	if err := json.Unmarshal(r.Body, &p); err != nil {
		t.Fatalf("%s: problem details: %v", r, err)
	}
	if p.Status != status {
		t.Fatalf("%s: problem status %d, want %d", r, p.Status, status)
	}
	if p.Title == "" {
		t.Fatalf("%s: problem details without a title", r)
	}
	return p
}

// ids makes ULIDs as the tracker does: monotonic, so that events made in
// the same millisecond sort in the order they were made.
var ids = struct {
	sync.Mutex
	entropy io.Reader
}{entropy: ulid.Monotonic(rand.Reader, 0)}

// newID returns a fresh ULID.
func newID() string {
	ids.Lock()
	defer ids.Unlock()
	return ulid.MustNew(ulid.Now(), ids.entropy).String()
}

// stamp formats a time as the tracker does: RFC 3339 UTC, milliseconds.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
