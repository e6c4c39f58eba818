//go:build browser

package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
)

// The documents of the Unblu example (backend.js plays them).
const (
	unbluCRMFirst = `{"crm_integration":{"customer_segment":"corporate","talking_points":["loans","forex","export_finance"],"campaigns":["forex","cash_mgmt"]}}`
	unbluFirst    = `{"crm_integration":{"customer_segment":"corporate","talking_points":["loans","forex","export_finance"],"campaigns":["forex","cash_mgmt"]},
		"digital_signature":{"digital_signature_waiver":true}}`
	unbluSecond = `{"crm_integration":{"customer_segment":"corporate","talking_points":["loans","forex","export_finance"],"campaigns":["forex","cash_mgmt"]},
		"digital_signature":{"digital_signature_waiver":true},
		"campaign":{"id":"cash_mgmt","completed":true}}`
	unbluThird = `{"crm_integration":{"customer_segment":"corporate","talking_points":["loans","forex","export_finance"],"campaigns":["forex"],"follow_up_meetings":["cash_mgmt"]},
		"digital_signature":{"digital_signature_waiver":true}}`
)

// The Unblu example in Chromium, played by a person on the demo's backend
// tab: the token pasted into its form, then the five steps one by one
// (CRM, signature system, the browser's own write, the campaign tracker,
// the CRM's If-Match move). The page hears every version in order, each
// equal to that step's document, and the REST API ends on the third
// document at the page's last version.
func TestUnbluExampleOnBackendTab(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--browser-writable", "campaign")
	tab := newBrowser(t)
	open(t, tab, c.URL()+"/demo/")
	run(t, tab,
		chromedp.Click(`header nav a[href="/demo/backend.html"]`, chromedp.ByQuery, chromedp.NodeVisible),
		chromedp.WaitVisible(`#token-form`, chromedp.ByQuery))
	waitPage(t, tab, "the tracker on the backend tab", `location.pathname === '/demo/backend.html' && !!(window._gt && window._gt.tracker)`)
	id := connected(t, tab)
	if id.State != "anonymous" {
		t.Fatalf("ids %+v", id)
	}
	waitPage(t, tab, "the subject shown", `document.getElementById('subject').textContent === 'visitors/`+id.VisitorID+`'`)

	// Every (version, document) the page receives from now on.
	eval(t, tab, `window.seen = []; visitrack.visitorData.onChange((d, v) => seen.push({v, d: JSON.stringify(d)})), true`, new(bool))
	waitPage(t, tab, "the first callback", `seen.length === 1`)

	run(t, tab, chromedp.SendKeys(`#token`, c.AdminToken, chromedp.ByQuery))
	click(t, tab, `#token-form button[type=submit]`)
	waitPage(t, tab, "the token taken", `document.getElementById('token-state').textContent === 'token set' && sessionStorage.getItem('vt-demo-token') === `+jsString(c.AdminToken))

	steps := []struct {
		doc    string
		answer string // first line of "What the collector answered"
	}{
		{unbluCRMFirst, `PATCH → 200, ETag "1"`},
		{unbluFirst, `PATCH → 200, ETag "2"`},
		{unbluSecond, `the tracker wrote campaign over its own connection`},
		{unbluFirst, `DELETE → 204, ETag "4"`},
		{unbluThird, `PATCH → 200, ETag "5"`},
	}
	for i, step := range steps {
		n := i + 1
		click(t, tab, `#next`)
		waitPage(t, tab, fmt.Sprintf("step %d to finish", n),
			fmt.Sprintf(`document.getElementById('flash').textContent.startsWith('Step %d ') || document.getElementById('flash').className.includes('bad')`, n))
		var ui struct {
			Flash, FlashClass, Expected, Answer, Mark string
		}
		eval(t, tab, fmt.Sprintf(`({flash: document.getElementById('flash').textContent,
			flashClass: document.getElementById('flash').className,
			expected: document.getElementById('expected').textContent,
			answer: document.getElementById('answer').textContent,
			mark: document.querySelectorAll('#steps li')[%d].textContent})`, i), &ui)
		want := fmt.Sprintf("Step %d done: version %d, the document is as expected.", n, n)
		if ui.Flash != want || strings.Contains(ui.FlashClass, "bad") {
			t.Fatalf("step %d: the page says %q (class %q), want %q", n, ui.Flash, ui.FlashClass, want)
		}
		if !strings.HasPrefix(ui.Mark, "✓ ") {
			t.Fatalf("step %d not marked done: %q", n, ui.Mark)
		}
		if first, _, _ := strings.Cut(ui.Answer, "\n"); first != step.answer {
			t.Fatalf("step %d: the collector answered %q, want %q", n, ui.Answer, step.answer)
		}
		if !jsonEqual(t, ui.Expected, step.doc) {
			t.Fatalf("step %d: the page expects %s, the example says %s", n, ui.Expected, step.doc)
		}
		waitPage(t, tab, fmt.Sprintf("version %d in the page", n), fmt.Sprintf(`seen.length > %d`, n))
	}

	var seen []struct {
		V int64  `json:"v"`
		D string `json:"d"`
	}
	eval(t, tab, `seen`, &seen)
	if len(seen) != len(steps)+1 {
		t.Fatalf("the page received %d versions, want %d: %+v", len(seen), len(steps)+1, seen)
	}
	if seen[0].V != 0 || !jsonEqual(t, seen[0].D, `{}`) {
		t.Fatalf("before the first step the page had %+v, want version 0, {}", seen[0])
	}
	for i, step := range steps {
		got := seen[i+1]
		if got.V != int64(i+1) {
			t.Fatalf("the page received versions %+v, want 0, 1, … %d in order", seen, len(steps))
		}
		if !jsonEqual(t, got.D, step.doc) {
			t.Fatalf("version %d in the page: %s, want %s", got.V, got.D, step.doc)
		}
	}

	// The REST view agrees: the third document, at the page's last version.
	hdr, body := getWithHeaders(t, c, "/v1/visitors/"+id.VisitorID+"/visitor-data")
	var doc struct {
		Version int64           `json:"version"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("GET visitor-data: %v in %s", err, body)
	}
	last := seen[len(seen)-1].V
	if !jsonEqual(t, string(doc.Data), unbluThird) {
		t.Fatalf("final document %s, want %s", doc.Data, unbluThird)
	}
	if doc.Version != last || hdr.Get("ETag") != strconv.Quote(strconv.FormatInt(last, 10)) {
		t.Fatalf("final version %d, ETag %s; the page's last version is %d", doc.Version, hdr.Get("ETag"), last)
	}
}

// click clicks the element as a person would: scrolled to the middle of
// the window, where the demo's fixed visitor-data panel at the bottom
// does not cover it, and only if it is enabled and on top.
func click(t testing.TB, tab context.Context, sel string) {
	t.Helper()
	run(t, tab, chromedp.WaitEnabled(sel, chromedp.ByQuery))
	var top string
	eval(t, tab, `(() => {
		const el = document.querySelector(`+jsString(sel)+`);
		el.scrollIntoView({block: 'center'});
		const r = el.getBoundingClientRect();
		const at = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
		return at && (at === el || el.contains(at)) ? '' : String(at && (at.id || at.tagName));
	})()`, &top)
	if top != "" {
		t.Fatalf("%s is covered by %s", sel, top)
	}
	run(t, tab, chromedp.Click(sel, chromedp.ByQuery))
}

// jsonEqual compares two JSON texts semantically.
func jsonEqual(t testing.TB, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("not JSON: %v: %s", err, a)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return reflect.DeepEqual(x, y)
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// getWithHeaders GETs path with the admin token and wants 200.
func getWithHeaders(t testing.TB, c *collectorProc, path string) (http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", c.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, res.StatusCode, body, err)
	}
	return res.Header, body
}

// capture records, at the browser's side through the DevTools protocol,
// what the collector sends to the tabs it is attached to: every WebSocket
// frame received, the WebSocket handshake's headers, and of every HTTP
// response from the collector's origin its headers (parsed, and raw from
// the wire) and its body.
type capture struct {
	t      testing.TB
	origin string

	mu        sync.Mutex
	wg        sync.WaitGroup
	tabs      int
	frames    []string
	wsHeaders []string
	responses map[captureKey]*capturedResponse
	order     []captureKey
	raw       map[captureKey][]string // ResponseReceivedExtraInfo headers
}

type captureKey struct {
	tab int
	id  network.RequestID
}

type capturedResponse struct {
	url      string
	status   int64
	typ      network.ResourceType
	headers  []string
	done     bool // loading finished or failed
	failed   string
	body     []byte
	bodyErr  error
	fetching bool
}

func newCapture(t testing.TB, origin string) *capture {
	return &capture{t: t, origin: origin, responses: map[captureKey]*capturedResponse{}, raw: map[captureKey][]string{}}
}

func headerLines(h network.Headers) []string {
	var out []string
	for k, v := range h {
		out = append(out, fmt.Sprintf("%s: %v", k, v))
	}
	return out
}

// attach starts capturing in tab; call it before the tab navigates.
func (c *capture) attach(tab context.Context) {
	c.t.Helper()
	c.mu.Lock()
	n := c.tabs
	c.tabs++
	c.mu.Unlock()
	chromedp.ListenTarget(tab, func(ev any) {
		c.mu.Lock()
		defer c.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventWebSocketFrameReceived:
			p := ev.Response.PayloadData
			if ev.Response.Opcode != 1 {
				if b, err := base64.StdEncoding.DecodeString(p); err == nil {
					p = string(b)
				}
			}
			c.frames = append(c.frames, p)
		case *network.EventWebSocketHandshakeResponseReceived:
			c.wsHeaders = append(c.wsHeaders, headerLines(ev.Response.Headers)...)
			c.wsHeaders = append(c.wsHeaders, ev.Response.HeadersText)
		case *network.EventResponseReceived:
			if !strings.HasPrefix(ev.Response.URL, c.origin+"/") {
				return
			}
			k := captureKey{n, ev.RequestID}
			if c.responses[k] == nil {
				c.order = append(c.order, k)
			}
			c.responses[k] = &capturedResponse{url: ev.Response.URL, status: ev.Response.Status, typ: ev.Type,
				headers: headerLines(ev.Response.Headers)}
		case *network.EventResponseReceivedExtraInfo:
			k := captureKey{n, ev.RequestID}
			c.raw[k] = append(c.raw[k], append(headerLines(ev.Headers), ev.HeadersText)...)
		case *network.EventLoadingFinished:
			r := c.responses[captureKey{n, ev.RequestID}]
			if r == nil || r.fetching {
				return
			}
			r.fetching = true
			c.wg.Add(1)
			// Not from the listener: it must not wait on the browser.
			go func() {
				defer c.wg.Done()
				ctx, cancel := context.WithTimeout(tab, 30*time.Second)
				defer cancel()
				var body []byte
				err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
					var err error
					body, err = network.GetResponseBody(ev.RequestID).Do(ctx)
					return err
				}))
				c.mu.Lock()
				r.body, r.bodyErr, r.done = body, err, true
				c.mu.Unlock()
			}()
		case *network.EventLoadingFailed:
			if r := c.responses[captureKey{n, ev.RequestID}]; r != nil && !r.fetching {
				r.done, r.failed = true, ev.ErrorText
			}
		}
	})
	run(c.t, tab, network.Enable())
}

// settle waits until every response seen has been read to its end.
func (c *capture) settle() {
	c.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		c.mu.Lock()
		var pending []string
		for _, k := range c.order {
			if r := c.responses[k]; !r.done && !r.fetching {
				pending = append(pending, r.url)
			}
		}
		c.mu.Unlock()
		if len(pending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("responses never finished loading: %v", pending)
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.wg.Wait()
}

// captured is what a capture saw, sorted for the assertions.
type captured struct {
	frames     map[string][]string // by type
	collect    []string            // bodies of /v1/collect answers
	trackerJS  bool                // gt.js and wasm_exec.js bodies
	wasm       bool                // a tracker .wasm body
	wasmHeader bool                // its Content-Type, from the wire
	demoPages  int                 // HTML pages of the demo
	everything []struct{ where, text string }
}

var wasmPath = regexp.MustCompile(`/tracker(\.[0-9a-f]+)?\.wasm$`)

// result settles the capture and sorts what it saw; a response body the
// browser could not give is a failure, as the capture would then be
// blind to it.
func (c *capture) result() captured {
	c.t.Helper()
	c.settle()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := captured{frames: map[string][]string{}}
	add := func(where, text string) {
		out.everything = append(out.everything, struct{ where, text string }{where, text})
	}
	for i, f := range c.frames {
		var m struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(f), &m); err != nil {
			c.t.Errorf("a WebSocket frame that is not JSON: %q", f)
		}
		out.frames[m.Type] = append(out.frames[m.Type], f)
		add(fmt.Sprintf("WebSocket frame %d (%s)", i, m.Type), f)
	}
	add("WebSocket handshake headers", strings.Join(c.wsHeaders, "\n"))
	gt, exec := false, false
	for _, k := range c.order {
		r := c.responses[k]
		add(r.url+" headers", strings.Join(r.headers, "\n"))
		add(r.url+" raw headers", strings.Join(c.raw[k], "\n"))
		if r.failed != "" {
			c.t.Errorf("%s (%s) failed to load: %s", r.url, r.typ, r.failed)
			continue
		}
		if r.bodyErr != nil {
			if r.status == http.StatusNoContent || r.status == http.StatusNotModified {
				continue
			}
			c.t.Errorf("%s (%s, %d): the body could not be captured: %v", r.url, r.typ, r.status, r.bodyErr)
			continue
		}
		add(r.url+" body", string(r.body))
		path := strings.TrimPrefix(r.url, c.origin)
		path, _, _ = strings.Cut(path, "?")
		switch {
		case path == "/v1/collect":
			out.collect = append(out.collect, string(r.body))
		case wasmPath.MatchString(path):
			out.wasm = out.wasm || strings.HasPrefix(string(r.body), "\x00asm")
			out.wasmHeader = out.wasmHeader || strings.Contains(strings.ToLower(strings.Join(c.raw[k], "\n")), "content-type: application/wasm")
		case path == "/gt.js":
			gt = len(r.body) > 0
		case strings.HasPrefix(path, "/wasm_exec"):
			exec = len(r.body) > 0
		case strings.HasPrefix(path, "/demo/") && (strings.HasSuffix(path, ".html") || strings.HasSuffix(path, "/")):
			out.demoPages++
		}
	}
	out.trackerJS = gt && exec
	return out
}

// mustBeReal fails when the capture missed what every session gets: a
// capture that saw nothing proves nothing.
func (s captured) mustBeReal(t testing.TB, what string) {
	t.Helper()
	var pushes int
	for _, f := range s.frames["visitorData"] {
		if !strings.Contains(f, `"requestId"`) {
			pushes++
		}
	}
	var answers int
	for _, b := range s.collect {
		var r struct {
			Ack *struct {
				EventIDs []string `json:"eventIds"`
			} `json:"ack"`
		}
		if json.Unmarshal([]byte(b), &r) == nil && r.Ack != nil && len(r.Ack.EventIDs) > 0 {
			answers++
		}
	}
	if len(s.frames["welcome"]) == 0 || len(s.frames["ack"]) == 0 || pushes == 0 || answers == 0 || !s.wasm || !s.wasmHeader || !s.trackerJS || s.demoPages == 0 {
		t.Fatalf("%s: the capture missed something: %d welcome, %d ack, %d visitorData pushes, %d /v1/collect answers, wasm %v (headers %v), gt.js and wasm_exec.js %v, %d demo pages",
			what, len(s.frames["welcome"]), len(s.frames["ack"]), pushes, answers, s.wasm, s.wasmHeader, s.trackerJS, s.demoPages)
	}
}

// find returns where canary appears.
func (s captured) find(canary string) []string {
	var at []string
	for _, e := range s.everything {
		if strings.Contains(e.text, canary) {
			at = append(at, e.where+": "+snippet(e.text, canary))
		}
	}
	return at
}

func snippet(text, s string) string {
	i := strings.Index(text, s)
	from, to := max(0, i-120), min(len(text), i+len(s)+120)
	return text[from:to]
}

func newCanary(t testing.TB) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "canary-" + hex.EncodeToString(b)
}

// rest calls the REST API with the admin token and wants want.
func rest(t testing.TB, c *collectorProc, want int, method, path, body string, header ...string) []byte {
	t.Helper()
	var in any
	if body != "" {
		in = body
	}
	status, b := collectortest.Request(t, c.URL(), c.AdminToken, method, path, in, header...)
	if status != want {
		t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	return b
}

const mergePatch = "application/merge-patch+json"

// Canary: internal metadata never reaches a browser. A backend puts a
// unique string into the visit's metadata while the visitor browses the
// demo (pages, a business event, visitor data pushed by REST and written
// by the browser, a verified sign-in and a sign-out, a tab on the HTTP
// transport); of every byte the collector sent to that browser, none
// carries the canary.
func TestCanaryMetadataNeverReachesBrowser(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--identity-secret", "demo-secret", "--browser-writable", "prefs")
	canary := newCanary(t)
	capt := newCapture(t, c.URL())
	browser := newBrowser(t)
	capt.attach(browser)

	open(t, browser, c.URL()+"/demo/")
	id := connected(t, browser)
	rest(t, c, http.StatusOK, "PUT", "/v1/visits/"+id.VisitID+"/metadata",
		`{"crm_note":"`+canary+`","risk":{"score":0.93,"reason":"`+canary+`"}}`)
	// Ordinary visitor data, pushed to the open page.
	rest(t, c, http.StatusOK, "PATCH", "/v1/visitors/"+id.VisitorID+"/visitor-data/loyalty", `{"tier":"gold"}`, "Content-Type", mergePatch)
	waitPage(t, browser, "the loyalty push", `visitrack.visitorData.get().then(d => !!d.loyalty && d.loyalty.tier === 'gold')`)

	open(t, browser, c.URL()+"/demo/product.html?sku=mug")
	connected(t, browser)
	run(t, browser, chromedp.Click("#add", chromedp.ByQuery, chromedp.NodeVisible))
	waitPage(t, browser, "the add-to-cart flash", `document.getElementById('flash').textContent.includes('cart')`)
	rest(t, c, http.StatusOK, "PATCH", "/v1/visits/"+id.VisitID+"/metadata", `{"followup":"call back, `+canary+`"}`, "Content-Type", mergePatch)
	open(t, browser, c.URL()+"/demo/cart.html")
	connected(t, browser)
	// The browser's own write, from the visitor-data panel.
	run(t, browser, chromedp.Click("#vt-theme", chromedp.ByQuery, chromedp.NodeVisible))
	waitPage(t, browser, "the browser's write", `document.getElementById('vt-update-msg').textContent === 'saved'`)

	// A verified sign-in through the demo's login page: the identity's
	// data (the visitor's, stitched) comes to this browser.
	open(t, browser, c.URL()+"/demo/login.html")
	connected(t, browser)
	run(t, browser,
		chromedp.SetValue(`#login input[name=userId]`, "ann@example.com", chromedp.ByQuery),
		chromedp.Click(`#login button`, chromedp.ByQuery))
	waitPage(t, browser, "signIn to resolve verified", `document.getElementById('flash').textContent === 'Signed in, verified.'`)
	signed := pageIDs(t, browser)
	if signed.IdentityID == nil || !signed.Verified || signed.VisitID != id.VisitID {
		t.Fatalf("after SignIn %+v", signed)
	}
	rest(t, c, http.StatusOK, "PATCH", "/v1/visits/"+id.VisitID+"/metadata", `{"signed_in":"`+canary+`"}`, "Content-Type", mergePatch)
	rest(t, c, http.StatusOK, "PATCH", "/v1/identities/"+*signed.IdentityID+"/visitor-data/loyalty", `{"tier":"platinum"}`, "Content-Type", mergePatch)
	waitPage(t, browser, "the identity's push", `visitrack.visitorData.get().then(d => d.loyalty.tier === 'platinum' && d.prefs.theme === 'dark')`)

	open(t, browser, c.URL()+"/demo/help.html")
	connected(t, browser)
	eval(t, browser, `visitrack.track('HelpRead', {topic: 'shipping'}).then(() => true)`, new(bool))
	open(t, browser, c.URL()+"/demo/login.html")
	connected(t, browser)
	run(t, browser, chromedp.Click("#logout", chromedp.ByQuery, chromedp.NodeVisible))
	waitPage(t, browser, "the sign-out", `document.getElementById('flash').textContent.startsWith('Signed out')`)

	// Another tab of the same visit on the HTTP transport.
	tab := newTab(t, browser)
	capt.attach(tab)
	open(t, tab, c.URL()+"/demo/?transport=http")
	waitPage(t, tab, "delivery over HTTP", `visitrack.stats().then(s => s.transport === 'http' && s.queued === 0)`)
	if got := pageIDs(t, tab); got.VisitID != id.VisitID {
		t.Fatalf("the HTTP tab is in visit %s, want %s", got.VisitID, id.VisitID)
	}
	rest(t, c, http.StatusOK, "PATCH", "/v1/visitors/"+id.VisitorID+"/visitor-data/loyalty", `{"tier":"silver"}`, "Content-Type", mergePatch)
	eval(t, tab, `visitrack.track('OverHTTP', {n: 1}).then(() => true)`, new(bool))
	waitPage(t, tab, "the data in an HTTP answer", `visitrack.visitorData.get().then(d => !!d.loyalty && d.loyalty.tier === 'silver')`)
	open(t, tab, c.URL()+"/demo/product.html?sku=beans")
	waitPage(t, tab, "delivery over HTTP", `visitrack.stats().then(s => s.transport === 'http' && s.queued === 0)`)
	c.waitEvents(id.VisitID, "the HTTP tab's events", func(evs []collector.Event) bool { return count(evs, "OverHTTP") == 1 && count(evs, "HelpRead") == 1 })

	got := capt.result()
	got.mustBeReal(t, "the visitor's browser")
	if at := got.find(canary); len(at) > 0 {
		t.Fatalf("internal metadata reached the browser:\n%s", strings.Join(at, "\n"))
	}

	// The canary is really stored, where operators see it.
	var md struct {
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rest(t, c, http.StatusOK, "GET", "/v1/visits/"+id.VisitID+"/metadata", ""), &md); err != nil {
		t.Fatal(err)
	}
	risk, _ := md.Data["risk"].(map[string]any)
	if md.Data["crm_note"] != canary || risk["reason"] != canary || md.Data["signed_in"] != canary || md.Data["followup"] != "call back, "+canary {
		t.Fatalf("metadata %+v", md.Data)
	}
}

// Canary: an identity's visitor data never reaches a browser whose claim
// of that identity is unverified. Browser A signs in verified and hears
// the canary; browser B (another profile) claims the same userId with a
// bare UserInfo, then with a SignIn without userHash, over the WebSocket
// and over HTTP, while the identity's data changes: B receives none of it.
func TestCanaryIdentityDataNotForUnverifiedBrowser(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--identity-secret", "demo-secret")
	canary := newCanary(t)
	const user = "ann@example.com"

	a := newBrowser(t)
	captA := newCapture(t, c.URL())
	captA.attach(a)
	open(t, a, c.URL()+"/demo/login.html")
	connected(t, a)
	run(t, a,
		chromedp.SetValue(`#login input[name=userId]`, user, chromedp.ByQuery),
		chromedp.Click(`#login button`, chromedp.ByQuery))
	waitPage(t, a, "signIn to resolve verified", `document.getElementById('flash').textContent === 'Signed in, verified.'`)
	ann := pageIDs(t, a)
	if ann.IdentityID == nil || !ann.Verified {
		t.Fatalf("A after SignIn %+v", ann)
	}
	identityData := "/v1/identities/" + *ann.IdentityID + "/visitor-data/"
	rest(t, c, http.StatusOK, "PATCH", identityData+"account", `{"iban":"`+canary+`"}`, "Content-Type", mergePatch)
	waitPage(t, a, "the canary in A", `visitrack.visitorData.get().then(d => !!d.account && d.account.iban === `+jsString(canary)+`)`)

	b := newBrowser(t)
	captB := newCapture(t, c.URL())
	captB.attach(b)
	open(t, b, c.URL()+"/demo/")
	mallory := connected(t, b)
	if mallory.VisitorID == ann.VisitorID {
		t.Fatal("the two browsers share a visitor")
	}
	bData := "/v1/visitors/" + mallory.VisitorID + "/visitor-data/"
	// pushB writes B's own visitor data and waits until B has it: pushes
	// to a connection go out in order, so anything pushed to B before it
	// has arrived by then.
	pushB := func(n int) {
		t.Helper()
		rest(t, c, http.StatusOK, "PATCH", bData+"visits", fmt.Sprintf(`{"n":%d}`, n), "Content-Type", mergePatch)
		waitPage(t, b, fmt.Sprintf("B's own push %d", n), fmt.Sprintf(`visitrack.visitorData.get().then(d => !!d.visits && d.visits.n === %d)`, n))
	}
	pushB(1)

	// A bare claim.
	eval(t, b, `_gt.push(['event', 'UserInfo', {data: {userId: `+jsString(user)+`}}]), true`, new(bool))
	waitPage(t, b, "B's claim recorded", `visitrack.ids().then(i => i.state === 'recognized')`)
	claim := pageIDs(t, b)
	// An unproven claim learns nothing, not even the identity's id.
	if claim.Verified || claim.IdentityID != nil {
		t.Fatalf("B after the claim %+v, A is %s", claim, *ann.IdentityID)
	}
	rest(t, c, http.StatusOK, "PATCH", identityData+"account", `{"note":"claimed: `+canary+`"}`, "Content-Type", mergePatch)
	waitPage(t, a, "the second write in A", `visitrack.visitorData.get().then(d => d.account.note === `+jsString("claimed: "+canary)+`)`)
	pushB(2)
	// A new page: the welcome of a claimed visit.
	open(t, b, c.URL()+"/demo/cart.html")
	if again := connected(t, b); again.State != "recognized" || again.Verified {
		t.Fatalf("B on its next page %+v", again)
	}

	// A SignIn without userHash: authenticated, not verified.
	var signedIn ids
	eval(t, b, `visitrack.signIn(`+jsString(user)+`, {name: 'mallory'})`, &signedIn)
	if signedIn.State != "authenticated" || signedIn.Verified || signedIn.IdentityID != nil {
		t.Fatalf("B after an unverified SignIn %+v", signedIn)
	}
	rest(t, c, http.StatusOK, "PATCH", identityData+"account", `{"after_signin":"`+canary+`"}`, "Content-Type", mergePatch)
	waitPage(t, a, "the third write in A", `visitrack.visitorData.get().then(d => d.account.after_signin === `+jsString(canary)+`)`)
	pushB(3)
	open(t, b, c.URL()+"/demo/help.html")
	if again := connected(t, b); again.State != "authenticated" || again.Verified {
		t.Fatalf("B on its next page %+v", again)
	}

	// B on the HTTP transport: sign out, claim again, an event.
	tab := newTab(t, b)
	captB.attach(tab)
	open(t, tab, c.URL()+"/demo/?transport=http")
	waitPage(t, tab, "delivery over HTTP", `visitrack.stats().then(s => s.transport === 'http' && s.queued === 0)`)
	eval(t, tab, `visitrack.signOut().then(() => true)`, new(bool))
	eval(t, tab, `visitrack.track('UserInfo', {userId: `+jsString(user)+`}).then(() => true)`, new(bool))
	waitPage(t, tab, "B's claim over HTTP", `visitrack.ids().then(i => i.state === 'recognized' && !i.verified)`)
	rest(t, c, http.StatusOK, "PATCH", identityData+"account", `{"over_http":"`+canary+`"}`, "Content-Type", mergePatch)
	rest(t, c, http.StatusOK, "PATCH", bData+"visits", `{"n":4}`, "Content-Type", mergePatch)
	eval(t, tab, `visitrack.track('Browse', {sku: 'kettle'}).then(() => true)`, new(bool))
	waitPage(t, tab, "B's data over HTTP", `visitrack.visitorData.get().then(d => !!d.visits && d.visits.n === 4)`)
	if got := pageIDs(t, tab); got.VisitID != mallory.VisitID {
		t.Fatalf("B's HTTP tab is in visit %s, want %s", got.VisitID, mallory.VisitID)
	}

	gotB := captB.result()
	gotB.mustBeReal(t, "browser B")
	if at := gotB.find(canary); len(at) > 0 {
		t.Fatalf("an identity's data reached a browser whose claim is unverified:\n%s", strings.Join(at, "\n"))
	}
	if at := gotB.find(*ann.IdentityID); len(at) > 0 {
		t.Fatalf("the identity's id reached a browser whose claim is unverified:\n%s", strings.Join(at, "\n"))
	}
	// A, verified, did receive it: over its WebSocket, as pushes. (The
	// last write may still be on its way to A: wait for it, not a time.)
	inA := func() (int, []string) {
		frames := captA.result().frames["visitorData"]
		n := 0
		for _, f := range frames {
			if strings.Contains(f, canary) {
				n++
			}
		}
		return n, frames
	}
	waitFor(t, "the 4 writes to reach A", func() bool { n, _ := inA(); return n >= 4 })
	if n, frames := inA(); n < 4 {
		t.Fatalf("A received the canary in %d visitorData frames, want the 4 writes: %v", n, frames)
	}
	var doc struct {
		Data map[string]map[string]any `json:"data"`
	}
	if err := json.Unmarshal(rest(t, c, http.StatusOK, "GET", "/v1/identities/"+*ann.IdentityID+"/visitor-data", ""), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Data["account"]["iban"] != canary || doc.Data["account"]["over_http"] != canary {
		t.Fatalf("the identity's data %+v", doc.Data)
	}
}
