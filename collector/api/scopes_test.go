package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// scopeUniverse is every scope a token can hold short of admin, with two
// namespaces so that one namespace's scope is the neighbour of another's.
var scopeUniverse = []string{
	collector.ScopeHistoryRead, collector.ScopeHistoryDelete,
	collector.ScopeVisitorDataRead,
	collector.ScopeVisitorDataWrite + "crm_integration", collector.ScopeVisitorDataWrite + "campaign",
	collector.ScopeVisitorDataWrite + "*",
	collector.ScopeMetadataRead, collector.ScopeMetadataWrite,
	collector.ScopeStatsRead, collector.ScopeNotifyWrite, collector.ScopeMetricsRead,
	collector.ScopeSubjectExport,
}

// scopeRoute is one request to one route and the scopes it needs, in
// conjunctive form: for every group, the token must hold one scope of it.
type scopeRoute struct {
	pattern string // as given to Handle
	method  string
	path    string
	body    string
	header  []string
	need    [][]string
}

// TestEveryRouteChecksItsScope: for every route the API registers, a token
// holding every scope but the ones that grant it gets 403, and a token
// holding only the scopes it needs gets past authorization (neither 401
// nor 403). So a route that checks a neighbouring scope (history:read for a
// DELETE) or none fails here. A new route must be added to the table.
func TestEveryRouteChecksItsScope(t *testing.T) {
	e := newVDEnv(t)
	h := New(Config{History: e.s, Tokens: e.s, VisitorData: e.vd, Metadata: e.md, Stats: e.s})
	h.HandleStream(e.hub, StreamOptions{KeepAlive: time.Hour})
	h.HandleMetrics(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "# metrics\n") }))
	h.HandleSubjectExport(e.s, ExportOptions{})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	const (
		hr, hd   = collector.ScopeHistoryRead, collector.ScopeHistoryDelete
		vr       = collector.ScopeVisitorDataRead
		vwCRM    = collector.ScopeVisitorDataWrite + "crm_integration"
		vwAll    = collector.ScopeVisitorDataWrite + "*"
		mr, mw   = collector.ScopeMetadataRead, collector.ScopeMetadataWrite
		sr, nw   = collector.ScopeStatsRead, collector.ScopeNotifyWrite
		jsonType = "application/json"
	)
	vis, ident, visitor := "/v1/visits/"+e.visit, "/v1/identities/"+e.identity, "/v1/visitors/"+e.visitor
	json := []string{"Content-Type", jsonType}
	patch := []string{"Content-Type", mediaMergePatch}
	docPut := []string{"Content-Type", jsonType, "If-Match", `"0"`}
	var routes []scopeRoute
	add := func(pattern, path, body string, header []string, need ...[]string) {
		method, _, _ := strings.Cut(pattern, " ")
		routes = append(routes, scopeRoute{pattern: pattern, method: method, path: path, body: body, header: header, need: need})
	}
	add("GET /metrics", "/metrics", "", nil, []string{collector.ScopeMetricsRead})
	add("GET /v1/visits", "/v1/visits", "", nil, []string{hr})
	add("GET /v1/visits/{visitId}", vis, "", nil, []string{hr})
	add("GET /v1/visits/{visitId}/pages", vis+"/pages", "", nil, []string{hr})
	add("GET /v1/visits/{visitId}/events", vis+"/events", "", nil, []string{hr})
	add("GET /v1/visits/{visitId}/sessions", vis+"/sessions", "", nil, []string{hr})
	add("GET /v1/visits/{visitId}/identities", vis+"/identities", "", nil, []string{hr})
	add("GET /v1/pages/{pageId}", "/v1/pages/"+storetest.ID(5, 1), "", nil, []string{hr})
	add("GET /v1/events", "/v1/events", "", nil, []string{hr})
	add("GET /v1/identities", "/v1/identities", "", nil, []string{hr})
	add("GET /v1/identities/{identityId}", ident, "", nil, []string{hr})
	add("GET /v1/identities/{identityId}/visits", ident+"/visits", "", nil, []string{hr})
	add("GET /v1/identities/{identityId}/events", ident+"/events", "", nil, []string{hr})
	add("GET /v1/visits/{visitId}/metadata", vis+"/metadata", "", nil, []string{mr})
	add("GET /v1/identities/{identityId}/pages", ident+"/pages", "", nil, []string{hr})
	add("GET /v1/pages/{pageId}/events", "/v1/pages/"+storetest.ID(5, 1)+"/events", "", nil, []string{hr})
	add("POST /v1/visits/{visitId}/notifications", vis+"/notifications", `{"channel":"offers","data":{}}`, json, []string{nw})
	// The stats are also open to history:read, whose holders could count
	// the same things from the history.
	add("GET /v1/stats/summary", "/v1/stats/summary", "", nil, []string{sr, hr})
	add("GET /v1/stats/timeseries", "/v1/stats/timeseries?interval=day", "", nil, []string{sr, hr})
	add("GET /v1/stats/breakdown", "/v1/stats/breakdown?dimension=browser", "", nil, []string{sr, hr})
	add("GET /v1/live", "/v1/live", "", nil, []string{sr, hr})
	add("PUT /v1/visits/{visitId}/metadata", vis+"/metadata", `{}`, json, []string{mw})
	add("PATCH /v1/visits/{visitId}/metadata", vis+"/metadata", `{}`, patch, []string{mw})
	for _, subject := range []struct{ pattern, path string }{
		{"/v1/identities/{identityId}", ident}, {"/v1/visitors/{visitorId}", visitor},
	} {
		doc, ns := subject.pattern+"/visitor-data", subject.pattern+"/visitor-data/{namespace}"
		docPath, nsPath := subject.path+"/visitor-data", subject.path+"/visitor-data/crm_integration"
		add("GET "+doc, docPath, "", nil, []string{vr})
		add("PUT "+doc, docPath, `{"crm_integration":{"a":1}}`, docPut, []string{vr}, []string{vwCRM, vwAll})
		add("GET "+ns, nsPath, "", nil, []string{vr, vwCRM, vwAll})
		add("PUT "+ns, nsPath, `{"a":1}`, json, []string{vwCRM, vwAll})
		add("PATCH "+ns, nsPath, `{"a":2}`, patch, []string{vwCRM, vwAll})
		add("DELETE "+ns, nsPath, "", nil, []string{vwCRM, vwAll})
	}
	add("GET /v1/stream", "/v1/stream?types=event", "", nil, []string{hr})
	add("GET /v1/stream", "/v1/stream?types=visitorData", "", nil, []string{vr})
	add("GET /v1/stream", "/v1/stream?types=event,visitorData", "", nil, []string{hr}, []string{vr})
	add("GET /v1/stream", "/v1/stream", "", nil, []string{hr, vr})
	add("GET /v1/identities/{identityId}/export", ident+"/export", "", nil, []string{collector.ScopeSubjectExport})
	add("GET /v1/visitors/{visitorId}/export", visitor+"/export", "", nil, []string{collector.ScopeSubjectExport})
	// The deletions last: the positive pass really deletes.
	add("DELETE /v1/identities/{identityId}", ident, "", nil, []string{hd})
	add("DELETE /v1/visitors/{visitorId}", visitor, "", nil, []string{hd})

	// Every registered route is in the table.
	for _, p := range h.patterns {
		if !slices.ContainsFunc(routes, func(r scopeRoute) bool { return r.pattern == p }) {
			t.Errorf("route %q is not in TestEveryRouteChecksItsScope's table: add it with the scopes it needs", p)
		}
	}

	tokens := map[string]string{} // scopes joined by "," → secret
	token := func(scopes []string) string {
		key := strings.Join(scopes, ",")
		if s, ok := tokens[key]; ok {
			return s
		}
		_, secret, err := e.s.CreateToken(context.Background(), scopes)
		if err != nil {
			t.Fatal(err)
		}
		tokens[key] = secret
		return secret
	}
	status := func(r scopeRoute, secret string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var body io.Reader
		if r.body != "" {
			body = strings.NewReader(r.body)
		}
		req, err := http.NewRequestWithContext(ctx, r.method, srv.URL+r.path, body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		for i := 0; i+1 < len(r.header); i += 2 {
			req.Header.Set(r.header[i], r.header[i+1])
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
		defer res.Body.Close()
		if res.Header.Get("Content-Type") == "text/event-stream" {
			return res.StatusCode, "(stream)" // it would not end: the status is all we need
		}
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	// Refusals first, while everything the routes name still exists.
	for _, r := range routes {
		for _, group := range r.need {
			var others []string
			for _, s := range scopeUniverse {
				if !slices.Contains(group, s) {
					others = append(others, s)
				}
			}
			if code, b := status(r, token(others)); code != http.StatusForbidden {
				t.Errorf("%s %s with %v (none of %v): %d %s, want 403", r.method, r.path, others, group, code, b)
			}
		}
	}
	// Then each scope that grants a route, next to the first of each other
	// group.
	for _, r := range routes {
		for gi, group := range r.need {
			for _, s := range group {
				var just []string
				for gj, other := range r.need {
					if gj == gi {
						just = append(just, s)
					} else {
						just = append(just, other[0])
					}
				}
				if code, b := status(r, token(just)); code == http.StatusUnauthorized || code == http.StatusForbidden {
					t.Errorf("%s %s with %v: %d %s, want it authorized", r.method, r.path, just, code, b)
				}
			}
		}
	}
}
