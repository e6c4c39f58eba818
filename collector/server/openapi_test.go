package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/api"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/metrics"
	"github.com/visitrack/visitrack/collector/server"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/collector/webhook"
	"github.com/visitrack/visitrack/shared/protocol"
)

func init() {
	// The export's lines, each validated as an item of the documented array.
	openapi3filter.RegisterBodyDecoder("application/x-ndjson", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		var items []any
		sc := bufio.NewScanner(body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var v any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return nil, fmt.Errorf("line %d: %w", len(items)+1, err)
			}
			items = append(items, v)
		}
		return items, sc.Err()
	})
}

// oas sends requests to a real collector (server.New on a real SQLite
// file, on a loopback port) and validates every answer against the
// embedded OpenAPI document with kin-openapi.
type oas struct {
	t       *testing.T
	base    string
	token   string
	router  routers.Router
	covered map[string]bool // "GET /v1/visits/{visitId}"
}

// call sends one request and validates it (when valid is true: requests
// meant to fail are not) and its answer against the document. It returns
// the status and body.
func (o *oas) call(method, path string, body string, header ...string) (int, []byte) {
	o.t.Helper()
	return o.do(true, method, path, body, header...)
}

func (o *oas) do(valid bool, method, path string, body string, header ...string) (int, []byte) {
	o.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, o.base+path, rd)
	if err != nil {
		o.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if o.token != "" {
		req.Header.Set("Authorization", "Bearer "+o.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		if header[i+1] == "" {
			req.Header.Del(header[i])
		} else {
			req.Header.Set(header[i], header[i+1])
		}
	}
	route, params, err := o.router.FindRoute(req)
	if err != nil {
		o.t.Fatalf("%s %s: not in the document: %v", method, path, err)
	}
	o.covered[method+" "+route.Path] = true
	ctx := context.Background()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if valid && body != "" {
		// ValidateRequest reads the body; give it a copy.
		req2 := req.Clone(ctx)
		req2.Body = io.NopCloser(strings.NewReader(body))
		in2 := *in
		in2.Request = req2
		if err := openapi3filter.ValidateRequest(ctx, &in2); err != nil {
			o.t.Errorf("%s %s: the request does not fit the document: %v", method, path, err)
		}
	} else if valid {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			o.t.Errorf("%s %s: the request does not fit the document: %v", method, path, err)
		}
	}
	if body != "" {
		req.Body = io.NopCloser(strings.NewReader(body))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		o.t.Fatalf("%s %s: reading the answer: %v", method, path, err)
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(bytes.NewReader(b)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		o.t.Errorf("%s %s → %d: the answer does not fit the document: %v\n%.600s", method, path, res.StatusCode, err, b)
	}
	return res.StatusCode, b
}

// must is call that also checks the status.
func (o *oas) must(status int, method, path, body string, header ...string) []byte {
	o.t.Helper()
	got, b := o.call(method, path, body, header...)
	if got != status {
		o.t.Fatalf("%s %s: %d, want %d: %s", method, path, got, status, b)
	}
	return b
}

// identitySecret proves the seed's sign-ins (docs/identity.md#proving-a-sign-in).
const identitySecret = "openapi-test-identity-secret"

func TestOpenAPIDocumentMatchesAnswers(t *testing.T) {
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the document is not valid OpenAPI: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s, want 3.1", doc.OpenAPI)
	}
	router, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}

	s := storetest.New(t)
	hooks, err := webhook.New(ctx, s, webhook.Config{Guard: webhook.Guard{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	// The server's own origin is allowed too, so that POST /v1/cookies
	// and a first-party /v1/collect answer as they do for a site that
	// serves the collector under its own host.
	ts := httptest.NewUnstartedServer(nil)
	self := "http://" + ts.Listener.Addr().String()
	srv, err := server.New(ctx, server.Config{Store: s, RecognitionKey: make([]byte, 32), IdentitySecret: identitySecret,
		AllowedOrigins: []string{"*", self}, Webhooks: hooks, Metrics: metrics.New()})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv.Handler()
	ts.Start()
	t.Cleanup(func() {
		ts.Close()
		srv.Shutdown(context.Background())
	})
	_, admin, err := s.CreateToken(ctx, []string{collector.ScopeAdmin})
	if err != nil {
		t.Fatal(err)
	}
	o := &oas{t: t, base: ts.URL, token: admin, router: router, covered: map[string]bool{}}

	// Every route of the API is in the document, and so are the server's
	// own.
	routes := append(srv.APIRoutes(), "POST /v1/collect", "GET /healthz")
	for _, r := range routes {
		method, path, _ := strings.Cut(r, " ")
		item := doc.Paths.Find(path)
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("route %s is not in the OpenAPI document", r)
		}
	}

	// Seed: a visit with pages and events, signed in with a proof, over
	// /v1/collect; the next batch continues it with the issued key.
	page, page2, page3 := collectortest.NewID(), collectortest.NewID(), collectortest.NewID()
	events := []protocol.Event{
		collectortest.Event("VisitStarted", "", map[string]any{"language": "en"}),
		collectortest.Event("PageEntered", page, nil),
		collectortest.Event("AddToCart", page, map[string]any{"sku": "A-1"}),
		collectortest.Event("PageExited", page, map[string]any{"durationMs": 1200}),
		collectortest.Event("PageEntered", page2, nil),
		collectortest.Event("SignIn", page2, map[string]any{"userId": "alice@example.com", "plan": "gold",
			"userHash": identity.UserHash(identitySecret, "alice@example.com")}),
	}
	res := o.collect(map[string]any{"sentAt": time.Now().UTC().Format(time.RFC3339Nano), "events": events}, "https://shop.example")
	visit, visitor, identityID := res.VisitID, res.VisitorID, res.Identity.IdentityID
	if res.VisitorKey == "" || identityID == nil || !res.Identity.Verified || res.Identity.Recognition == nil {
		t.Fatalf("collect answered %+v, want a key and a verified identity", res)
	}
	iden := *identityID
	entered := collectortest.Event("PageEntered", page3, nil)
	entered.URL, entered.Title = "https://shop.example/cart", "Cart"
	next := o.collect(map[string]any{"visitorId": visitor, "visitorKey": res.VisitorKey, "visitId": visit,
		"recognition": *res.Identity.Recognition, "visitorDataVersion": 1, "events": []protocol.Event{entered}}, "https://shop.example")
	if next.VisitID != visit || next.VisitorID != visitor {
		t.Fatalf("the keyed batch answered %+v, want visit %s", next, visit)
	}
	// A second, anonymous browser to erase later: identityId null.
	res2 := o.collect(map[string]any{"events": []protocol.Event{collectortest.Event("Click", "", nil)}}, "")
	if res2.Identity.IdentityID != nil || res2.Identity.State != "anonymous" {
		t.Fatalf("an anonymous browser answered %+v", res2.Identity)
	}
	o.call("POST", "/v1/collect", "text/plain body that is not JSON", "Content-Type", "text/plain") // 400 problem
	// A cookieless page view, a first-party batch (the collector keeps the
	// cookies: no key in the answer), a handoff and its redemption.
	if c := o.collect(map[string]any{"cookieless": true, "events": []protocol.Event{collectortest.Event("PageEntered", collectortest.NewID(), nil)}},
		"https://shop.example"); c.VisitorKey != "" || c.Identity.IdentityID != nil {
		t.Fatalf("a cookieless batch answered %+v", c)
	}
	if c := o.collect(map[string]any{"cookies": "auto", "cookieDomain": "", "events": []protocol.Event{collectortest.Event("Click", "", nil)}},
		self); c.Cookies != "server" || c.VisitorKey != "" {
		t.Fatalf("a first-party batch answered %+v", c)
	}
	rec, _ := json.Marshal(*res.Identity.Recognition)
	var handoff struct{ Token string }
	json.Unmarshal(o.must(200, "POST", "/v1/handoff", `{"visitorId":"`+visitor+`","visitorKey":"`+res.VisitorKey+`","visitId":"`+visit+`","recognition":`+string(rec)+`}`,
		"Origin", "https://shop.example"), &handoff)
	if c := o.collect(map[string]any{"handoff": handoff.Token, "events": []protocol.Event{collectortest.Event("Click", "", nil)}},
		"https://pay.example"); c.VisitorID == visitor || c.Identity.IdentityID != nil {
		t.Fatalf("the handoff carried the issuer over: %+v", c)
	}
	o.must(200, "POST", "/v1/cookies", `{"visitorId":"`+visitor+`","visitorKey":"`+res.VisitorKey+`","recognition":`+string(rec)+`}`, "Origin", self)
	o.must(403, "POST", "/v1/cookies", `{"visitorId":"`+visitor+`","recognition":null}`, "Origin", self)
	o.must(204, "POST", "/v1/cookies", `{"forget":true,"recognition":"v2.forged.x"}`, "Origin", "https://shop.example")       // script mode: revoke only
	o.must(403, "POST", "/v1/handoff", `{"visitorId":"`+visitor+`","visitId":"`+visit+`"}`, "Origin", "https://shop.example") // no key
	// Bob, to merge into Alice.
	bob := o.collect(map[string]any{"events": []protocol.Event{collectortest.Event("SignIn", "", map[string]any{"userId": "bob@example.com",
		"userHash": identity.UserHash(identitySecret, "bob@example.com")})}}, "https://shop.example")
	if bob.Identity.IdentityID == nil {
		t.Fatalf("bob's sign-in answered %+v", bob.Identity)
	}

	// History.
	since := url.QueryEscape(time.Now().Add(-time.Hour).UTC().Format(time.RFC3339))
	o.must(200, "GET", "/v1/visits", "")
	var visits struct{ NextCursor *string }
	json.Unmarshal(o.must(200, "GET", "/v1/visits?limit=1&since="+since, ""), &visits)
	if visits.NextCursor == nil {
		t.Fatal("no second page of visits")
	}
	o.must(200, "GET", "/v1/visits?limit=1&cursor="+url.QueryEscape(*visits.NextCursor), "")
	o.must(200, "GET", "/v1/visits?visitorId="+visitor+"&state=authenticated", "")
	var got collector.Visit
	json.Unmarshal(o.must(200, "GET", "/v1/visits/"+visit, ""), &got)
	if got.Reached != "authenticated" || !got.WasVerified || got.Cookieless || got.ReferrerType == "" {
		t.Errorf("visit %+v", got.VisitInsight)
	}
	o.must(200, "GET", "/v1/visits/"+visit, "")
	o.must(200, "GET", "/v1/visits/"+visit+"/pages", "")
	var pages struct{ Items []collector.Page }
	json.Unmarshal(o.must(200, "GET", "/v1/visits/"+visit+"/pages?urlPrefix="+url.QueryEscape("https://shop.example/c")+"&title=Cart", ""), &pages)
	if len(pages.Items) != 1 || pages.Items[0].PageID != page3 {
		t.Errorf("pages by urlPrefix and title: %+v", pages.Items)
	}
	o.must(200, "GET", "/v1/visits/"+visit+"/events?category=business", "")
	o.must(200, "GET", "/v1/visits/"+visit+"/sessions", "")
	o.must(200, "GET", "/v1/visits/"+visit+"/identities", "")
	o.must(200, "GET", "/v1/pages/"+page, "")
	var evs struct{ Items []collector.Event }
	json.Unmarshal(o.must(200, "GET", "/v1/pages/"+page+"/events?category=business&url="+url.QueryEscape("https://shop.example/"), ""), &evs)
	if len(evs.Items) != 1 || evs.Items[0].Name != "AddToCart" {
		t.Errorf("the page's business events: %+v", evs.Items)
	}
	o.must(404, "GET", "/v1/pages/"+collectortest.NewID()+"/events", "")
	o.must(200, "GET", "/v1/identities/"+iden+"/pages?url="+url.QueryEscape("https://shop.example/cart"), "")
	o.must(200, "GET", "/v1/events?visitId="+visit+"&limit=2&urlPrefix=https", "")
	o.must(200, "GET", "/v1/identities?userId=alice%40example.com", "")
	var alice collector.Identity
	json.Unmarshal(o.must(200, "GET", "/v1/identities/"+iden, ""), &alice)
	if alice.FirstTouch == nil || string(alice.FirstTouch) == "null" {
		t.Errorf("alice has no firstTouch: %+v", alice)
	}
	o.must(200, "GET", "/v1/identities/"+iden+"/visits", "")
	o.must(200, "GET", "/v1/identities/"+iden+"/events?name=SignIn", "")
	o.must(404, "GET", "/v1/visits/"+collectortest.NewID(), "")
	o.do(false, "GET", "/v1/visits?limit=0", "")
	o.do(false, "GET", "/v1/events?until=yesterday", "")

	// Visitor data, both subjects; metadata.
	for _, subject := range []string{"identities/" + iden, "visitors/" + res2.VisitorID} {
		base := "/v1/" + subject + "/visitor-data"
		o.must(200, "GET", base, "")
		o.must(200, "PUT", base, `{"crm":{"tier":"gold"}}`, "If-Match", `"0"`)
		o.do(false, "PUT", base, `{"crm":{}}`)                    // 428
		o.must(412, "PUT", base, `{"crm":{}}`, "If-Match", `"0"`) // stale
		o.must(200, "GET", base+"/crm", "")
		o.must(200, "PUT", base+"/cart", `{"items":2}`)
		o.must(200, "PATCH", base+"/crm", `{"vip":true}`, "Content-Type", "application/merge-patch+json", "If-Match", `"2"`)
		o.must(204, "DELETE", base+"/cart", "")
		o.must(404, "DELETE", base+"/cart", "")
	}
	md := "/v1/visits/" + visit + "/metadata"
	o.must(200, "GET", md, "")
	o.must(200, "PUT", md, `{"agent":"bob"}`)
	o.must(200, "PATCH", md, `{"score":3}`, "Content-Type", "application/merge-patch+json", "If-Match", `"1"`)

	// Stats, live visits, a notification, a merge.
	o.must(200, "GET", "/v1/stats/summary?bots=include&since="+since, "")
	o.must(200, "GET", "/v1/stats/timeseries?metric=visits&interval=hour&state=authenticated&since="+since, "")
	o.must(200, "GET", "/v1/stats/timeseries", "")
	o.must(200, "GET", "/v1/stats/breakdown?dimension=page&limit=5", "")
	if got, _ := o.do(false, "GET", "/v1/stats/breakdown", ""); got != 400 {
		t.Errorf("a breakdown without dimension: %d, want 400", got)
	}
	var live struct{ Count int }
	json.Unmarshal(o.must(200, "GET", "/v1/live?limit=10", ""), &live)
	if live.Count == 0 {
		t.Error("no live visits")
	}
	o.must(202, "POST", "/v1/visits/"+visit+"/notifications", `{"channel":"chat","data":{"text":"hello"}}`)
	if got, _ := o.do(false, "POST", "/v1/visits/"+visit+"/notifications", `{"channel":"Chat!"}`); got != 400 {
		t.Errorf("a notification on a bad channel: %d, want 400", got)
	}
	merge := "/v1/identities/" + iden + "/merge"
	var dry collector.IdentityMerge
	json.Unmarshal(o.must(200, "POST", merge+"?dryRun=true", `{"from":"`+*bob.Identity.IdentityID+`"}`), &dry)
	if dry.State != collector.MergeDryRun || dry.MergeID != "" || dry.Moved.Visits != 1 {
		t.Errorf("dry run %+v", dry)
	}
	var merged collector.IdentityMerge
	json.Unmarshal(o.must(200, "POST", merge, `{"from":"`+*bob.Identity.IdentityID+`"}`), &merged)
	o.must(200, "GET", "/v1/identities/"+iden+"/merges", "")
	undo := "/v1/merges/" + merged.MergeID + "/undo"
	o.must(200, "POST", undo+"?dryRun=true", "")
	o.must(200, "POST", undo, "")
	o.must(409, "POST", undo, "")
	o.must(404, "POST", "/v1/merges/"+visit+"/undo", "")
	o.must(200, "POST", merge, `{"from":"`+*bob.Identity.IdentityID+`"}`)

	// Export, the stream, webhooks, operations.
	o.must(200, "GET", "/v1/export/events?since="+since, "")
	o.must(200, "GET", "/v1/export/visits", "")
	o.must(400, "GET", "/v1/export/events?since="+since+"&until="+since, "")
	o.must(200, "GET", "/v1/identities/"+iden+"/export", "")
	o.must(200, "GET", "/v1/visitors/"+res2.VisitorID+"/export?format=json", "")
	o.must(404, "GET", "/v1/identities/"+collectortest.NewID()+"/export", "")
	if got, _ := o.do(false, "GET", "/v1/visitors/"+res2.VisitorID+"/export?format=csv", ""); got != 400 {
		t.Errorf("an export in an unknown format: %d, want 400", got)
	}
	o.streamHead(t)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer rcv.Close()
	var hook struct{ ID string }
	json.Unmarshal(o.must(201, "POST", "/v1/webhooks", `{"url":"`+rcv.URL+`/hook","events":["SignIn","business:*"]}`), &hook)
	o.must(400, "POST", "/v1/webhooks", `{"url":"ftp://x/","events":["SignIn"]}`)
	o.must(200, "GET", "/v1/webhooks", "")
	o.must(204, "DELETE", "/v1/webhooks/"+hook.ID, "")

	// Engagement (docs/engagement.md).
	var cat, rule struct {
		ID string `json:"id"`
	}
	json.Unmarshal(o.must(201, "POST", "/v1/engagement/categories", `{"name":"products","tags":[{"url":{"prefix":"/products"}}]}`), &cat)
	o.must(200, "GET", "/v1/engagement/categories", "")
	o.must(200, "GET", "/v1/engagement/categories/"+cat.ID, "")
	o.must(200, "PUT", "/v1/engagement/categories/"+cat.ID, `{"name":"products","tags":[{"url":{"glob":"/p/*"}}]}`, "If-Match", `"1"`)
	const ruleBody = `{"name":"r","when":[{"page":{"category":"products"}}],"then":{"offer":{"channel":"chat"}}}`
	o.must(400, "POST", "/v1/engagement/rules", `{"name":"r","when":[]}`)
	json.Unmarshal(o.must(201, "POST", "/v1/engagement/rules", ruleBody), &rule)
	o.must(200, "GET", "/v1/engagement/rules", "")
	o.must(200, "GET", "/v1/engagement/rules/"+rule.ID, "")
	if got, _ := o.do(false, "PUT", "/v1/engagement/rules/"+rule.ID, ruleBody); got != 428 {
		t.Errorf("PUT without If-Match: %d, want 428", got)
	}
	o.must(412, "PUT", "/v1/engagement/rules/"+rule.ID, ruleBody, "If-Match", `"9"`)
	o.must(200, "PUT", "/v1/engagement/rules/"+rule.ID, ruleBody, "If-Match", `"1"`)
	o.must(200, "GET", "/v1/engagement/rules/"+rule.ID+"/stats", "")
	// Dry runs against the seed visit: the saved rule's pages are not in
	// its category (no offer); the unsaved rule offers on AddToCart.
	o.must(200, "POST", "/v1/engagement/rules/"+rule.ID+"/dry-run?visitId="+visit, "")
	o.must(404, "POST", "/v1/engagement/rules/"+rule.ID+"/dry-run?visitId="+collectortest.NewID(), "")
	var tried struct {
		Offers int `json:"offers"`
	}
	json.Unmarshal(o.must(200, "POST", "/v1/engagement/dry-run", `{"rule":{"name":"u","when":[{"event":{"name":"AddToCart"}}],"then":{"offer":{"channel":"chat"}}},"visitId":"`+visit+`"}`), &tried)
	if tried.Offers != 1 {
		t.Errorf("the dry run of a rule on AddToCart: %d offers, want 1", tried.Offers)
	}
	o.must(400, "POST", "/v1/engagement/dry-run", `{"rule":{"name":"r","when":[]},"visitId":"`+visit+`"}`)
	o.must(204, "DELETE", "/v1/engagement/rules/"+rule.ID, "")
	o.must(204, "DELETE", "/v1/engagement/categories/"+cat.ID, "")
	o.must(200, "GET", "/v1/openapi.json", "", "Authorization", "")
	o.must(200, "GET", "/healthz", "", "Authorization", "")
	o.must(401, "GET", "/metrics", "", "Authorization", "")
	o.must(200, "GET", "/metrics", "")
	o.must(401, "GET", "/v1/identities", "", "Authorization", "")

	// Erasure last.
	o.must(204, "DELETE", "/v1/visitors/"+res2.VisitorID, "")
	o.must(204, "DELETE", "/v1/identities/"+iden, "")
	o.must(200, "GET", "/v1/erasures?limit=1", "")

	// Every documented operation was answered and checked.
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !o.covered[method+" "+path] {
				t.Errorf("%s %s is documented but the test never called it", method, path)
			}
		}
	}
}

// collectAnswer is the part of a /v1/collect answer the test reads.
type collectAnswer struct {
	VisitorID, VisitorKey, VisitID, Cookies string
	Identity                                struct {
		State       string
		IdentityID  *string
		Verified    bool
		Recognition *string
	}
}

// collect posts a batch from origin ("" for none) and wants 200.
func (o *oas) collect(body map[string]any, origin string) collectAnswer {
	o.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		o.t.Fatal(err)
	}
	var a collectAnswer
	if err := json.Unmarshal(o.must(200, "POST", "/v1/collect", string(b), "Origin", origin), &a); err != nil {
		o.t.Fatal(err)
	}
	return a
}

// streamHead checks the stream's status and headers; its body never ends.
func (o *oas) streamHead(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", o.base+"/v1/stream?types=event", nil)
	req.Header.Set("Authorization", "Bearer "+o.token)
	route, params, err := o.router.FindRoute(req)
	if err != nil {
		t.Fatal(err)
	}
	o.covered["GET "+route.Path] = true
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header,
		Body: io.NopCloser(strings.NewReader("")), Options: &openapi3filter.Options{IncludeResponseStatus: true, ExcludeResponseBody: true}}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		t.Errorf("GET /v1/stream: %v", err)
	}
}

// TestOpenAPIOperationIDs: every operation has a summary and an
// operationId, unique and camelCase, so that a client generator names its
// methods after them (and docs/api.md anchors them); its 4xx answers are
// declared as problems (401 and 403 where a token is needed, 404 where the
// path names a resource, 413 and 415 where it takes a body); servers are
// set and every tag says what it groups.
func TestOpenAPIOperationIDs(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	camel := regexp.MustCompile(`^[a-z][a-zA-Z0-9]*$`)
	seen := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			switch {
			case op.OperationID == "":
				t.Errorf("%s has no operationId", where)
			case !camel.MatchString(op.OperationID):
				t.Errorf("%s: operationId %q is not camelCase", where, op.OperationID)
			case seen[op.OperationID] != "":
				t.Errorf("%s: operationId %q is %s's too", where, op.OperationID, seen[op.OperationID])
			}
			seen[op.OperationID] = where
			if strings.TrimSpace(op.Summary) == "" {
				t.Errorf("%s has no summary", where)
			}
			checkErrorAnswers(t, doc, where, path, op)
		}
	}
	if len(doc.Servers) == 0 {
		t.Error("the document sets no servers")
	}
	for _, tag := range doc.Tags {
		if strings.TrimSpace(tag.Description) == "" {
			t.Errorf("tag %q has no description", tag.Name)
		}
	}
	if len(seen) == 0 {
		t.Fatal("the document has no operations")
	}
}

// checkErrorAnswers wants the 4xx answers an operation can give declared,
// each an application/problem+json Problem.
func checkErrorAnswers(t *testing.T, doc *openapi3.T, where, path string, op *openapi3.Operation) {
	t.Helper()
	security := doc.Security
	if op.Security != nil {
		security = *op.Security
	}
	var want []int
	if len(security) > 0 {
		want = append(want, 401, 403)
		if op.RequestBody != nil {
			want = append(want, 413, 415)
		}
	}
	if strings.Contains(path, "{") {
		want = append(want, 404)
	}
	for _, code := range want {
		if op.Responses.Status(code) == nil {
			t.Errorf("%s does not declare its %d answer", where, code)
		}
	}
	any4xx := false
	for code, ref := range op.Responses.Map() {
		if !strings.HasPrefix(code, "4") {
			continue
		}
		any4xx = true
		if ref.Value == nil || ref.Value.Content.Get("application/problem+json") == nil {
			t.Errorf("%s: its %s answer is not an application/problem+json problem", where, code)
		}
	}
	if !any4xx && path != "/healthz" {
		t.Errorf("%s declares no 4xx answer", where)
	}
}
