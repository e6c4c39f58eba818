//go:build edge

package edge_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/web"
)

// pageHTML is a site page that embeds the tracker with the edge collector
// and a transport, as docs/edge.md#loading-the-tracker tells sites to. It keeps what the
// tracker hands its visitor-data and notification callbacks.
const pageHTML = `<!doctype html><title>edge shop</title>
<script>
  window._gt = window._gt || [];
  window.seen = { data: [], notes: [] };
  _gt.push(['config', { collector: %q, transport: %q }]);
  _gt.push(['visitorData', 'subscribe', (data, version) => seen.data.push({ data, version })]);
  _gt.push(['subscribe', 'notification', (n) => seen.notes.push(n)]);
</script>
<script async src="/gt.js"></script>`

// browserRun is a Chromium on a site whose page embeds the tracker with the
// edge collector (wk) and a transport.
type browserRun struct {
	site *httptest.Server
	wk   *worker
	ctx  context.Context
}

// startBrowser serves the site, the worker (allowing the site's origin)
// and Chromium.
func startBrowser(t *testing.T, transport string) *browserRun {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatal("chromium is needed (make chromium): ", err)
	}
	var workerURL string
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/shop.html" {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprintf(w, pageHTML, workerURL, transport)
			return
		}
		web.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(site.Close)
	vars := settings()
	vars[edge.EnvAllowedOrigins] = site.URL
	wk := startWorker(t, vars)
	workerURL = wk.URL

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(chromium), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	bctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	if err := chromedp.Run(bctx); err != nil { // starts the browser: no timeout here
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(bctx, 2*time.Minute)
	t.Cleanup(cancel)
	return &browserRun{site: site, wk: wk, ctx: ctx}
}

// eval evaluates expr in the page, awaiting a Promise, into out.
func (b *browserRun) eval(t *testing.T, expr string, out any) {
	t.Helper()
	err := chromedp.Run(b.ctx, chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if err != nil {
		t.Fatalf("%s: %v", expr, err)
	}
}

// TestBrowserIdentityStory: a real browser on a site, tracked by the edge
// build over HTTP, goes anonymous → SignIn → a new visit recognized by its
// cookie → SignOut, and the edge stores the whole story.
func TestBrowserIdentityStory(t *testing.T) {
	b := startBrowser(t, "http")
	site, wk, ctx := b.site, b.wk, b.ctx

	type ids struct {
		VisitorID  string  `json:"visitorId"`
		VisitID    string  `json:"visitId"`
		IdentityID *string `json:"identityId"`
		State      string  `json:"state"`
		Verified   bool    `json:"verified"`
	}
	eval := func(expr string, out any) {
		t.Helper()
		b.eval(t, expr, out)
	}
	// waitState polls the tracker until its visit is in state.
	waitState := func(state string) ids {
		t.Helper()
		var got ids
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			eval(`visitrack.ids()`, &got)
			if got.State == state {
				return got
			}
		}
		var v struct {
			State    string  `json:"state"`
			Identity *string `json:"identityId"`
			Verified bool    `json:"verified"`
		}
		adminGet(t, wk.URL+"/v1/visits/"+got.VisitID, &v)
		t.Fatalf("the tracker stayed %+v, want state %s (the edge has the visit %+v)", got, state, v)
		return got
	}
	open := func() {
		t.Helper()
		if err := chromedp.Run(ctx, chromedp.Navigate(site.URL+"/shop.html")); err != nil {
			t.Fatal(err)
		}
	}

	const userID = "dora@example.com"
	open()
	first := waitState("anonymous")
	var ignored any
	eval(`visitrack.track('AddToCart', {sku: 'E-1'}).then(() => true)`, &ignored)
	// The site's backend proves the sign-in, as a verified one needs
	// (docs/identity.md#proving-a-sign-in).
	proof, err := identity.SignInToken(identitySecret, "", userID, time.Now(), 10*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	eval(fmt.Sprintf(`visitrack.signIn(%q, {plan: 'gold', signInToken: %q}).then(() => true)`, userID, proof), &ignored)
	signedIn := waitState("authenticated")
	if signedIn.IdentityID == nil || !signedIn.Verified || signedIn.VisitID != first.VisitID {
		t.Fatalf("after signIn: %+v, want a verified identity in visit %s", signedIn, first.VisitID)
	}

	// The visit cookie expires while no page of the site is open (an open
	// page keeps its visit going from memory and writes the cookie again);
	// the next page load starts a new visit that the recognition cookie
	// makes recognized. Chromium may run the old page's pagehide, which
	// writes the cookie, after about:blank has loaded: delete it until it
	// stays gone.
	if err := chromedp.Run(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	del := network.DeleteCookies("_vt_visit").WithURL(site.URL + "/")
	if err := chromedp.Run(ctx, del); err != nil {
		t.Fatal(err)
	}
	// Gone at two looks 250 ms apart, deleting again whenever it is back.
	for quiet, end := 0, time.Now().Add(10*time.Second); quiet < 2; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the _vt_visit cookie kept coming back after the page was left")
		}
		var cookies []*network.Cookie
		if err := chromedp.Run(ctx, chromedp.ActionFunc(func(ctx context.Context) error {
			var err error
			cookies, err = network.GetCookies().WithURLs([]string{site.URL + "/"}).Do(ctx)
			return err
		})); err != nil {
			t.Fatal(err)
		}
		quiet++
		for _, c := range cookies {
			if c.Name == "_vt_visit" {
				t.Log("the left page wrote _vt_visit again; deleting it")
				quiet = 0
				if err := chromedp.Run(ctx, del); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	open()
	recognized := waitState("recognized")
	if recognized.VisitID == first.VisitID || recognized.VisitorID != first.VisitorID ||
		recognized.IdentityID == nil || *recognized.IdentityID != *signedIn.IdentityID || !recognized.Verified {
		t.Fatalf("second visit %+v, want a new visit of visitor %s recognized as %s", recognized, first.VisitorID, *signedIn.IdentityID)
	}
	eval(`visitrack.signOut().then(() => true)`, &ignored)
	waitState("anonymous")
	eval(`visitrack.track('AfterSignOut', {}).then(() => true)`, &ignored)

	// What the edge stored, through its REST API.
	identityID := *signedIn.IdentityID
	var visits struct {
		Items []struct {
			VisitID string `json:"visitId"`
		} `json:"items"`
	}
	adminGet(t, wk.URL+"/v1/identities/"+identityID+"/visits", &visits)
	if len(visits.Items) != 2 {
		t.Fatalf("the identity has %d visits, want 2: %+v", len(visits.Items), visits.Items)
	}
	type event struct {
		Name       string  `json:"name"`
		IdentityID *string `json:"identityId"`
	}
	var events struct {
		Items []event `json:"items"`
	}
	adminGet(t, wk.URL+"/v1/visits/"+first.VisitID+"/events?limit=1000", &events)
	want := map[string]bool{"VisitStarted": false, "PageEntered": false, "AddToCart": false, "SignIn": false}
	for _, e := range events.Items {
		if _, ok := want[e.Name]; ok {
			want[e.Name] = true
		}
	}
	for name, seen := range want {
		if !seen {
			t.Fatalf("first visit has no %s: %+v", name, events.Items)
		}
	}
	// sendBeacon's PageExited of the first visit arrives on its own time;
	// the second visit's story is complete once AfterSignOut is stored.
	var second []event
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
		adminGet(t, wk.URL+"/v1/visits/"+recognized.VisitID+"/events?limit=1000", &events)
		second = events.Items
		if len(second) > 0 && second[len(second)-1].Name == "AfterSignOut" {
			break
		}
	}
	var names []string
	for _, e := range second {
		names = append(names, e.Name)
	}
	have := func(name string) *event {
		for i := range second {
			if second[i].Name == name {
				return &second[i]
			}
		}
		t.Fatalf("second visit has no %s: %v", name, names)
		return nil
	}
	if e := have("UserInfo"); e.IdentityID == nil || *e.IdentityID != identityID {
		t.Fatalf("the recognition's UserInfo %+v, want identity %s", e, identityID)
	}
	have("SignOut")
	if e := have("AfterSignOut"); e.IdentityID != nil {
		t.Fatalf("an event after SignOut carries identity %s", *e.IdentityID)
	}
}

func adminGet(t *testing.T, url string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

// TestBrowserWebSocketPush: the tracker with transport 'websocket' at the
// edge talks to the Durable Object: its events are stored (acknowledged
// after the commit), a backend's REST write of its visitor data reaches
// the page as a push, and so does a notification. The page never falls
// back to /v1/collect.
func TestBrowserWebSocketPush(t *testing.T) {
	b := startBrowser(t, "websocket")
	if err := chromedp.Run(b.ctx, chromedp.Navigate(b.site.URL+"/shop.html")); err != nil {
		t.Fatal(err)
	}
	var ids struct {
		VisitorID string `json:"visitorId"`
		VisitID   string `json:"visitId"`
		State     string `json:"state"`
	}
	// The tracker settles track()'s promise on the ack, which the edge
	// sends after the commit: the event is stored by then.
	var ignored any
	b.eval(t, `visitrack.track('AddToCart', {sku: 'WS-1'}).then(() => true)`, &ignored)
	b.eval(t, `visitrack.ids()`, &ids)
	if ids.State != "anonymous" || ids.VisitID == "" {
		t.Fatalf("tracker ids %+v, want an anonymous visit", ids)
	}
	var events struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	adminGet(t, b.wk.URL+"/v1/visits/"+ids.VisitID+"/events?limit=1000", &events)
	stored := false
	for _, e := range events.Items {
		stored = stored || e.Name == "AddToCart"
	}
	if !stored {
		t.Fatalf("the acknowledged AddToCart is not stored: %+v", events.Items)
	}

	status, body := adminSend(t, "PATCH", b.wk.URL+"/v1/visitors/"+ids.VisitorID+"/visitor-data/campaign",
		"application/merge-patch+json", `{"banner":"spring"}`)
	if status != http.StatusOK {
		t.Fatalf("PATCH visitor data: %d %s", status, body)
	}
	waitPage(t, b, "the visitor-data push",
		`seen.data.some((s) => s.version >= 1 && s.data.campaign && s.data.campaign.banner === 'spring')`)

	status, body = adminSend(t, "POST", b.wk.URL+"/v1/visits/"+ids.VisitID+"/notifications",
		"application/json", `{"channel":"chat","data":{"text":"An agent can help"}}`)
	if status != http.StatusAccepted || !strings.Contains(body, `"delivered":1`) {
		t.Fatalf("POST notification: %d %s, want 202 delivered 1", status, body)
	}
	waitPage(t, b, "the notification",
		`seen.notes.some((n) => n.channel === 'chat' && n.data.text === 'An agent can help')`)

	var collects int
	b.eval(t, `performance.getEntriesByType('resource').filter((e) => e.name.includes('/v1/collect')).length`, &collects)
	if collects != 0 {
		t.Fatalf("the page made %d /v1/collect requests, want none (transport websocket)", collects)
	}
}

// waitPage polls a condition in the page until it holds.
func waitPage(t *testing.T, b *browserRun, what, cond string) {
	t.Helper()
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		var ok bool
		b.eval(t, cond, &ok)
		if ok {
			return
		}
	}
	var seen any
	b.eval(t, `seen`, &seen)
	t.Fatalf("%s never came to the page; it saw %v", what, seen)
}

// adminSend makes an admin request and returns the status and body.
func adminSend(t *testing.T, method, url, contentType, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
