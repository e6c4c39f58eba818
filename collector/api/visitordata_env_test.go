package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/feed"
	"github.com/visitrack/visitrack/collector/problem"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// vdEnv is the real API with visitor data, metadata and the change feed,
// over a real SQLite file, served on a loopback port.
type vdEnv struct {
	t   testing.TB
	s   *store.Store
	vd  *store.VisitorData
	md  *store.Metadata
	hub *feed.Hub
	rec *vdRecorder
	srv *httptest.Server

	identity, visitor, visit string
	alice, browser           collector.Subject

	tokens map[string]string // name → secret
}

// Token names and their scopes.
var vdTokenScopes = map[string][]string{
	"crm":       {collector.ScopeVisitorDataRead, collector.ScopeVisitorDataWrite + "crm_integration"},
	"signature": {collector.ScopeVisitorDataRead, collector.ScopeVisitorDataWrite + "digital_signature"},
	"campaign":  {collector.ScopeVisitorDataRead, collector.ScopeVisitorDataWrite + "campaign"},
	"crmOnly":   {collector.ScopeVisitorDataWrite + "crm_integration"}, // no read
	"reader":    {collector.ScopeVisitorDataRead},
	"writeAll":  {collector.ScopeVisitorDataRead, collector.ScopeVisitorDataWrite + "*"},
	"mdRead":    {collector.ScopeMetadataRead},
	"mdWrite":   {collector.ScopeMetadataRead, collector.ScopeMetadataWrite},
	"history":   {collector.ScopeHistoryRead},
	"admin":     {collector.ScopeAdmin},
}

func newVDEnv(t testing.TB) *vdEnv {
	t.Helper()
	ctx := context.Background()
	e := &vdEnv{t: t, s: storetest.New(t), rec: &vdRecorder{}, tokens: map[string]string{}}
	e.identity, e.visitor, e.visit = storetest.ID(2, 1), storetest.ID(1, 1), storetest.ID(3, 1)
	e.alice = collector.Subject{Kind: collector.SubjectIdentity, ID: e.identity}
	e.browser = collector.Subject{Kind: collector.SubjectVisitor, ID: e.visitor}
	storetest.Exec(t, e.s, `INSERT INTO identities (identity_id, user_id, first_seen_at, last_seen_at) VALUES (?, 'alice@example.com', 0, 0)`, e.identity)
	storetest.Exec(t, e.s, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?, 0, 0)`, e.visitor)
	storetest.Exec(t, e.s, `INSERT INTO visits (visit_id, visitor_id, identity_id, session_id, started_at, last_seen_at) VALUES (?, ?, ?, ?, 0, 0)`,
		e.visit, e.visitor, e.identity, storetest.ID(4, 1))
	for name, scopes := range vdTokenScopes {
		_, secret, err := e.s.CreateToken(ctx, scopes)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[name] = secret
	}
	e.hub = feed.New(feed.Options{})
	t.Cleanup(e.hub.Close)
	e.vd = store.NewVisitorData(e.s, e.rec, e.hub)
	e.md = store.NewMetadata(e.s)
	h := New(Config{History: e.s, Tokens: e.s, VisitorData: e.vd, Metadata: e.md})
	h.HandleStream(e.hub, StreamOptions{KeepAlive: 100 * time.Millisecond})
	e.srv = httptest.NewServer(h)
	t.Cleanup(e.srv.Close)
	return e
}

// vdRecorder is a VisitorDataListener, as package live is.
type vdRecorder struct {
	mu  sync.Mutex
	got []collector.VisitorData
}

func (r *vdRecorder) VisitorDataChanged(vd *collector.VisitorData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, *vd)
}

type vdResp struct {
	status int
	header http.Header
	body   []byte
}

// req sends a request; token is a name of vdTokenScopes ("" for none).
// Headers come in pairs: "If-Match", `"3"`, "Content-Type", "…".
func (e *vdEnv) req(method, path, token, body string, headers ...string) *vdResp {
	e.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[token])
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return &vdResp{status: res.StatusCode, header: res.Header, body: b}
}

// patch sends a merge patch to a namespace of the identity.
func (e *vdEnv) patch(token, ns, body string, headers ...string) *vdResp {
	e.t.Helper()
	return e.req("PATCH", "/v1/identities/"+e.identity+"/visitor-data/"+ns, token, body,
		append([]string{"Content-Type", mediaMergePatch}, headers...)...)
}

// doc returns the identity's document and version as the API answers.
func (e *vdEnv) doc() (int64, string) {
	e.t.Helper()
	r := e.req("GET", "/v1/identities/"+e.identity+"/visitor-data", "reader", "")
	var v documentView
	if r.status != 200 || json.Unmarshal(r.body, &v) != nil {
		e.t.Fatalf("GET visitor-data: %d %s", r.status, r.body)
	}
	if et := r.header.Get("ETag"); et != `"`+itoa(v.Version)+`"` {
		e.t.Fatalf("ETag %s for version %d", et, v.Version)
	}
	return v.Version, string(v.Data)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// want checks status and, for a problem, its code.
func (r *vdResp) want(t *testing.T, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if code == "" {
		return
	}
	var p problem.Details
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q for a %d", ct, r.status)
	}
	if err := json.Unmarshal(r.body, &p); err != nil || p.Code != code || p.Detail == "" {
		t.Fatalf("problem %s, want code %s with a detail", r.body, code)
	}
}

// sameJSON reports whether a and b encode the same value.
func sameJSON(t *testing.T, a, b string) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal([]byte(a), &va); err != nil {
		t.Fatalf("%v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &vb); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return reflect.DeepEqual(va, vb)
}

// sse is one server-sent event.
type sse struct{ event, data string }

// stream opens GET /v1/stream with token and delivers its events; every
// byte received is kept in raw.
type stream struct {
	events chan sse
	status int
	mu     sync.Mutex
	raw    strings.Builder
	cancel context.CancelFunc
}

func (e *vdEnv) openStream(token, query string) *stream {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/v1/stream"+query, nil)
	req.Header.Set("Authorization", "Bearer "+e.tokens[token])
	res, err := e.srv.Client().Do(req)
	if err != nil {
		cancel()
		e.t.Fatal(err)
	}
	s := &stream{events: make(chan sse, 10000), status: res.StatusCode, cancel: cancel}
	e.t.Cleanup(cancel)
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		s.raw.Write(b)
		close(s.events)
		return s
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
		e.t.Fatalf("stream Content-Type %q", ct)
	}
	go func() {
		defer res.Body.Close()
		defer close(s.events)
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var cur sse
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.raw.WriteString(line + "\n")
			s.mu.Unlock()
			switch {
			case line == "":
				if cur.event != "" {
					s.events <- cur
				}
				cur = sse{}
			case strings.HasPrefix(line, "event: "):
				cur.event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				cur.data += strings.TrimPrefix(line, "data: ")
			}
		}
	}()
	return s
}

func (s *stream) next(t *testing.T) sse {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			t.Fatal("stream ended")
		}
		return ev
	case <-time.After(time.Minute):
		t.Fatal("no stream event within a minute")
	}
	return sse{}
}

func (s *stream) all() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.raw.String()
}
