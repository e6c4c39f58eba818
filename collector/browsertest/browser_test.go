//go:build browser

package browsertest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/web"
)

// An anonymous visit over several pages of the demo shop: one visit, its
// pages in order, the business event, and PageExited of each page left.
func TestAnonymousVisitOverSeveralPages(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	tab := newBrowser(t)

	open(t, tab, c.URL()+"/demo/")
	first := connected(t, tab)
	open(t, tab, c.URL()+"/demo/product.html?sku=mug")
	second := connected(t, tab)
	run(t, tab, chromedp.Click("#add", chromedp.ByQuery, chromedp.NodeVisible))
	waitPage(t, tab, "the add-to-cart flash", `document.getElementById('flash').textContent.includes('cart')`)
	open(t, tab, c.URL()+"/demo/cart.html")
	third := connected(t, tab)

	if first.VisitID != second.VisitID || second.VisitID != third.VisitID || first.VisitorID != third.VisitorID {
		t.Fatalf("one visit expected: %+v %+v %+v", first, second, third)
	}
	if first.PageID == second.PageID || second.PageID == third.PageID || third.State != "anonymous" || third.Verified {
		t.Fatalf("ids %+v %+v %+v", first, second, third)
	}
	ck := cookies(t, tab)
	if !strings.Contains(ck, "_vt_vid="+first.VisitorID) || !strings.Contains(ck, "_vt_visit="+first.VisitID+".") || strings.Contains(ck, "_vt_uid") {
		t.Fatalf("cookies %q", ck)
	}

	evs := c.waitEvents(first.VisitID, "three pages and two exits", func(evs []collector.Event) bool {
		return count(evs, "PageEntered") == 3 && count(evs, "PageExited") >= 2 && count(evs, "AddToCart") == 1
	})
	if count(evs, "VisitStarted") != 1 || evs[0].Name != "VisitStarted" {
		t.Fatalf("events %s", names(evs))
	}
	for _, e := range evs {
		if e.Name == "AddToCart" && (e.PageID != second.PageID || !strings.Contains(string(e.Data), `"sku":"mug"`) || e.Category != "business") {
			t.Fatalf("AddToCart %+v %s", e, e.Data)
		}
	}
	pages := c.pages(first.VisitID)
	if len(pages) != 3 || pages[0].PageID != first.PageID || pages[1].PageID != second.PageID || pages[2].PageID != third.PageID {
		t.Fatalf("pages %+v", pages)
	}
	if !strings.HasSuffix(pages[1].URL, "/demo/product.html?sku=mug") || pages[0].ExitedAt == nil || pages[1].ExitedAt == nil {
		t.Fatalf("pages %+v", pages)
	}
	v := c.visit(first.VisitID)
	if v.State != "anonymous" || v.VisitorID != first.VisitorID || v.PageCount != 3 || !strings.HasSuffix(v.LandingURL, "/demo/") || v.UserAgent == "" {
		t.Fatalf("visit %+v", v)
	}
}

// PageExited goes out by sendBeacon when the page is left, and the
// collector closes the page with its duration.
func TestPageExitedStoredAfterNavigatingAway(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	tab := newBrowser(t)
	open(t, tab, c.URL()+"/demo/help.html")
	id := connected(t, tab)
	time.Sleep(300 * time.Millisecond)
	run(t, tab, chromedp.Navigate("about:blank"))

	evs := c.waitEvents(id.VisitID, "PageExited", func(evs []collector.Event) bool { return count(evs, "PageExited") == 1 })
	for _, e := range evs {
		if e.Name == "PageExited" {
			var ms int64
			fmt.Sscanf(strings.TrimPrefix(string(e.Data), `{"durationMs":`), "%d", &ms)
			if e.PageID != id.PageID || ms < 300 {
				t.Fatalf("PageExited %+v %s", e, e.Data)
			}
		}
	}
	var p collector.Page
	c.getJSON("/v1/pages/"+id.PageID, &p)
	if p.ExitedAt == nil || p.DurationMS == nil || *p.DurationMS < 300 {
		t.Fatalf("page %+v, duration %v", p, fmtPtr(p.DurationMS))
	}
}

// The identity story in the browser: SignIn with the demo backend's
// userHash → authenticated and verified, the token in _vt_uid, which the
// collector sets HttpOnly (the demo is on the collector's host: first-party
// mode); after the visit timed out a fresh tab is recognized through the
// cookie, verified; SignOut clears the cookie and ends the session.
func TestSignInRecognizeSignOut(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--visit-timeout", "2s", "--identity-secret", "demo-secret")
	browser := newBrowser(t)
	const timeout = "?visitTimeoutMinutes=0.03" // 1.8 s, under the collector's 2 s

	open(t, browser, c.URL()+"/demo/login.html"+timeout)
	before := connected(t, browser)
	run(t, browser,
		chromedp.SetValue(`#login input[name=userId]`, "ann@example.com", chromedp.ByQuery),
		chromedp.Click(`#login button`, chromedp.ByQuery))
	// The page's flash shows what signIn's promise resolved with.
	waitPage(t, browser, "signIn to resolve verified", `document.getElementById('flash').textContent === 'Signed in, verified.'`)
	signedIn := pageIDs(t, browser)
	if signedIn.VisitID != before.VisitID || signedIn.IdentityID == nil {
		t.Fatalf("after SignIn %+v (before %+v)", signedIn, before)
	}
	waitFor(t, "the token cookie", func() bool { return browserCookie(t, browser, c.URL()+"/", "_vt_uid") != nil })
	if tok := browserCookie(t, browser, c.URL()+"/", "_vt_uid"); !tok.HTTPOnly || tok.Value == "" {
		t.Fatalf("token cookie %+v: want it HttpOnly", tok)
	}
	if ck := cookies(t, browser); strings.Contains(ck, "_vt_uid") || strings.Contains(ck, "_vt_key") {
		t.Fatalf("the page's script sees the token or key: %q", ck)
	}
	c.waitEvents(signedIn.VisitID, "SignIn", func(evs []collector.Event) bool { return count(evs, "SignIn") == 1 })
	v := c.visit(signedIn.VisitID)
	if v.State != "authenticated" || !v.Verified || v.IdentityID == nil || *v.IdentityID != *signedIn.IdentityID {
		t.Fatalf("visit after SignIn %+v", v)
	}
	var idl list[collector.Identity]
	c.getJSON("/v1/identities?userId=ann@example.com", &idl)
	if len(idl.Items) != 1 || idl.Items[0].IdentityID != *signedIn.IdentityID {
		t.Fatalf("identities %+v", idl.Items)
	}

	// Leave, let the visit time out, come back in a fresh tab.
	run(t, browser, chromedp.Navigate("about:blank"))
	c.waitVisitEnded(signedIn.VisitID) // and the tracker's cookie, 1.8 s, before it
	tab := newTab(t, browser)
	open(t, tab, c.URL()+"/demo/"+timeout)
	back := connected(t, tab)
	if back.VisitID == signedIn.VisitID || back.VisitorID != signedIn.VisitorID {
		t.Fatalf("no new visit after the timeout: %+v, was %+v", back, signedIn)
	}
	if back.State != "recognized" || !back.Verified || back.IdentityID == nil || *back.IdentityID != *signedIn.IdentityID {
		t.Fatalf("fresh tab not recognized: %+v", back)
	}
	evs := c.waitEvents(back.VisitID, "UserInfo", func(evs []collector.Event) bool { return count(evs, "UserInfo") == 1 })
	if count(evs, "VisitStarted") != 1 {
		t.Fatalf("new visit events %s", names(evs))
	}
	v = c.visit(back.VisitID)
	if v.State != "recognized" || !v.Verified || v.IdentityID == nil || *v.IdentityID != *signedIn.IdentityID {
		t.Fatalf("recognized visit %+v", v)
	}

	// SignOut.
	eval(t, tab, `visitrack.signOut().then(() => true)`, new(bool))
	waitPage(t, tab, "anonymous", `visitrack.ids().then(i => i.state === 'anonymous' && i.identityId === null)`)
	waitFor(t, "the token cookie cleared", func() bool { return browserCookie(t, tab, c.URL()+"/", "_vt_uid") == nil })
	// The next page of the visit stays anonymous: the token is gone.
	// (Checked first: the visit times out 1.8 s after its last event, and
	// the REST checks below take time on a loaded machine.)
	open(t, tab, c.URL()+"/demo/cart.html"+timeout)
	if after := connected(t, tab); after.State != "anonymous" || after.VisitID != back.VisitID {
		t.Fatalf("after SignOut, next page %+v", after)
	}
	c.waitEvents(back.VisitID, "SignOut", func(evs []collector.Event) bool { return count(evs, "SignOut") == 1 })
	var sessions list[collector.Session]
	c.getJSON("/v1/visits/"+back.VisitID+"/sessions", &sessions)
	ended := false
	for _, s := range sessions.Items {
		if s.IdentityID != nil && *s.IdentityID == *signedIn.IdentityID && s.EndedAt != nil {
			ended = true
		}
	}
	if !ended {
		t.Fatalf("no ended session of the identity: %+v", sessions.Items)
	}
}

// A forged _vt_uid is ignored: the visit stays anonymous and unverified,
// and the tracker deletes the cookie.
func TestForgedRecognitionCookie(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--identity-secret", "demo-secret")
	tab := newBrowser(t)
	run(t, tab, chromedp.Navigate(c.URL()+"/console/"))
	eval(t, tab, `document.cookie = "_vt_uid=v1.eyJ1c2VySWQiOiJhbm5AZXhhbXBsZS5jb20ifQ.forged; Path=/"`, new(string))
	open(t, tab, c.URL()+"/demo/")
	id := connected(t, tab)
	if id.State != "anonymous" || id.Verified || id.IdentityID != nil {
		t.Fatalf("forged token accepted: %+v", id)
	}
	if ck := cookies(t, tab); strings.Contains(ck, "_vt_uid") {
		t.Fatalf("forged cookie kept: %q", ck)
	}
	evs := c.waitEvents(id.VisitID, "PageEntered", func(evs []collector.Event) bool { return count(evs, "PageEntered") == 1 })
	if count(evs, "UserInfo") != 0 {
		t.Fatalf("events %s", names(evs))
	}
	if v := c.visit(id.VisitID); v.State != "anonymous" || v.Verified || v.IdentityID != nil {
		t.Fatalf("visit %+v", v)
	}
}

// embedPage is a page of another site that embeds the tracker with the
// snippet of docs/tracker.md#embedding.
func embedPage(collectorURL, config string) string {
	return `<!doctype html><html><head><title>Partner site</title>
<script>
  window._gt = window._gt || [];
  _gt.push(['config', Object.assign({ collector: '` + collectorURL + `' }, ` + config + `)]);
  _gt.push(['event', 'PartnerLanding', { data: { campaign: 'spring' } }]);
</script>
<script async src="` + collectorURL + `/gt.js"></script>
</head><body><h1>Partner</h1></body></html>`
}

// siteServer serves embedPage on localhost, another origin than the
// collector's 127.0.0.1.
func siteServer(t *testing.T, collectorURL func() string, config string) (origin string) {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, embedPage(collectorURL(), config))
	}))
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// The tracker embedded by a page on another origin: cookies are the
// site's, the wasm is fetched with CORS, events reach the collector, over
// the WebSocket and over HTTP (transport: 'http', what the edge build uses).
func TestTrackerOnAnotherOrigin(t *testing.T) {
	for _, transport := range []string{"websocket", "http"} {
		t.Run(transport, func(t *testing.T) {
			var c *collectorProc
			site := siteServer(t, func() string { return c.URL() }, `{transport: '`+transport+`'}`)
			c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--allowed-origins", site)
			tab := newBrowser(t)
			open(t, tab, site+"/landing")
			waitPage(t, tab, "delivery over "+transport,
				`visitrack.stats().then(s => s.transport === '`+transport+`' && s.queued === 0)`)
			id := pageIDs(t, tab)
			ck := cookies(t, tab)
			if !strings.Contains(ck, "_vt_vid="+id.VisitorID) || !strings.Contains(ck, "_vt_visit="+id.VisitID) {
				t.Fatalf("cookies on the site %q, ids %+v", ck, id)
			}
			eval(t, tab, `visitrack.track('PartnerClick', {button: 'buy'}).then(() => true)`, new(bool))
			evs := c.waitEvents(id.VisitID, "the partner's events", func(evs []collector.Event) bool {
				return count(evs, "PartnerLanding") == 1 && count(evs, "PartnerClick") == 1
			})
			if names(evs) != "VisitStarted,PageEntered,PartnerLanding,PartnerClick" {
				t.Fatalf("events %s", names(evs))
			}
			if !strings.HasPrefix(evs[1].URL, site+"/landing") {
				t.Fatalf("PageEntered url %q", evs[1].URL)
			}
			// A page whose origin is not allowed is refused: once the
			// collector has answered it 403, its events are still queued
			// and none of them is stored.
			other := siteServer(t, func() string { return c.URL() }, `{transport: '`+transport+`'}`)
			other = strings.Replace(other, "localhost", "127.0.0.1", 1)
			refused := watchRefusals(t, tab, c.URL())
			open(t, tab, other+"/landing")
			eval(t, tab, `_gt.push(['event', 'ForeignClick']), true`, new(bool))
			waitFor(t, "the collector to refuse the foreign page", func() bool { return refused.Load() > 0 })
			var st struct {
				Queued    int    `json:"queued"`
				Transport string `json:"transport"`
			}
			eval(t, tab, `visitrack.stats()`, &st)
			if st.Queued == 0 {
				t.Fatalf("a page of a foreign origin has nothing queued after its refusal: %+v", st)
			}
			var stored list[collector.Event]
			c.getJSON("/v1/events?name=ForeignClick", &stored)
			if len(stored.Items) != 0 {
				t.Fatalf("an event of a foreign origin was stored: %+v", stored.Items)
			}
		})
	}
}

// The collector stops mid-visit and comes back on the same address and
// database: every event made meanwhile arrives, once.
func TestCollectorRestartMidVisit(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	tab := newBrowser(t)
	open(t, tab, c.URL()+"/demo/")
	id := connected(t, tab)
	c.waitEvents(id.VisitID, "the first page", func(evs []collector.Event) bool { return count(evs, "PageEntered") == 1 })

	c = c.restart(func() {
		// While it is down, the visitor goes on clicking.
		for i := 0; i < 3; i++ {
			eval(t, tab, fmt.Sprintf(`_gt.push(['event', 'WhileDown', {data: {n: %d}}]), true`, i), new(bool))
			waitPage(t, tab, "the event to be queued", fmt.Sprintf(`visitrack.stats().then(s => s.queued === %d)`, i+1))
		}
		var st struct{ Queued int }
		eval(t, tab, `visitrack.stats()`, &st)
		if st.Queued != 3 {
			t.Errorf("%d events waiting while the collector is down, want 3", st.Queued)
		}
	})
	waitPage(t, tab, "the outbox to drain", `visitrack.stats().then(s => s.queued === 0)`)
	eval(t, tab, `visitrack.track('AfterRestart').then(() => true)`, new(bool))
	evs := c.waitEvents(id.VisitID, "the events made while down", func(evs []collector.Event) bool {
		return count(evs, "WhileDown") >= 3 && count(evs, "AfterRestart") == 1
	})
	seen := map[string]bool{}
	for _, e := range evs {
		if seen[e.EventID] {
			t.Fatalf("event %s stored twice", e.EventID)
		}
		seen[e.EventID] = true
	}
	if count(evs, "WhileDown") != 3 || count(evs, "PageEntered") != 1 || count(evs, "VisitStarted") != 1 {
		t.Fatalf("events %s", names(evs))
	}
	// The page reconnected on its own, to the same visit.
	if again := connected(t, tab); again.VisitID != id.VisitID {
		t.Fatalf("visit changed over the restart: %+v", again)
	}
}

// Consent: with requireConsent nothing but a cookieless page view (no
// cookie, no ids) is sent before consent; events made before it keep their
// time and go in a new visit, not joined to the cookieless one; refusal
// deletes the cookies and drops what waits; consent again starts afresh.
func TestConsentOffThenOn(t *testing.T) {
	var c *collectorProc
	site := siteServer(t, func() string { return c.URL() }, `{requireConsent: true}`)
	c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--allowed-origins", site)
	tab := newBrowser(t)
	open(t, tab, site+"/landing")
	eval(t, tab, `_gt.push(['event', 'BeforeConsent']), true`, new(bool))
	// Time passes before consent: the event must keep the time it was
	// made, which the check below tells from the time of consent.
	time.Sleep(time.Second)
	if ck := cookies(t, tab); strings.Contains(ck, "_vt_") {
		t.Fatalf("cookies before consent: %q", ck)
	}
	// Only the page view counted cookieless (docs/identity.md#cookieless-visits): no ids,
	// and not the event that waits for consent.
	var visits list[collector.Visit]
	waitFor(t, "the cookieless page view", func() bool { c.getJSON("/v1/visits", &visits); return len(visits.Items) > 0 })
	if len(visits.Items) != 1 || !visits.Items[0].Cookieless || visits.Items[0].EventCount != 1 {
		t.Fatalf("visits before consent: %+v, want one cookieless page view", visits.Items)
	}
	counted := visits.Items[0]
	consentAt := time.Now()
	eval(t, tab, `visitrack.consent(true).then(() => true)`, new(bool))
	first := connected(t, tab)
	if first.VisitID == counted.VisitID || first.VisitorID == counted.VisitorID {
		t.Fatalf("the consented visit %+v joined the cookieless one %s", first, counted.VisitID)
	}
	evs := c.waitEvents(first.VisitID, "the buffered events", func(evs []collector.Event) bool {
		return count(evs, "BeforeConsent") == 1 && count(evs, "ConsentChanged") == 1
	})
	// The grant is recorded after what waited for it.
	if names(evs) != "VisitStarted,PageEntered,PartnerLanding,BeforeConsent,ConsentChanged" ||
		string(evs[4].Data) != `{"state":"granted","source":"api"}` {
		t.Fatalf("events %s", names(evs))
	}
	for _, e := range evs[:4] {
		if e.Timestamp.After(consentAt.Add(-800 * time.Millisecond)) {
			t.Fatalf("%s lost its original time: %s, consent at %s", e.Name, e.Timestamp, consentAt)
		}
	}
	if ck := cookies(t, tab); !strings.Contains(ck, "_vt_vid="+first.VisitorID) {
		t.Fatalf("cookies after consent %q", ck)
	}

	// Refusal: cookies deleted, what is made now is dropped.
	eval(t, tab, `_gt.push(['consent', false]), true`, new(bool))
	waitPage(t, tab, "cookies deleted", `!document.cookie.includes('_vt_')`)
	// The withdrawal is in the visit's history.
	evs = c.waitEvents(first.VisitID, "the withdrawal", func(evs []collector.Event) bool { return count(evs, "ConsentChanged") == 2 })
	if last := evs[len(evs)-1]; last.Name != "ConsentChanged" || string(last.Data) != `{"state":"denied","source":"api"}` {
		t.Fatalf("events after the refusal %s", names(evs))
	}
	var outcome string
	eval(t, tab, `visitrack.track('WhileRefused').then(() => 'sent', e => e.code)`, &outcome)
	if outcome != "consent_refused" {
		t.Fatalf("track() while consent is refused: %q, want the consent_refused rejection", outcome)
	}
	eval(t, tab, `visitrack.consent(true).then(() => true)`, new(bool))
	second := connected(t, tab)
	if second.VisitorID == first.VisitorID || second.VisitID == first.VisitID {
		t.Fatalf("consent again kept the old ids: %+v vs %+v", second, first)
	}
	eval(t, tab, `visitrack.track('AfterConsent').then(() => true)`, new(bool))
	evs = c.waitEvents(second.VisitID, "AfterConsent", func(evs []collector.Event) bool { return count(evs, "AfterConsent") == 1 })
	if names(evs) != "VisitStarted,PageEntered,ConsentChanged,AfterConsent" {
		t.Fatalf("events after consent again: %s", names(evs))
	}
	var refused list[collector.Event]
	c.getJSON("/v1/events?name=WhileRefused", &refused)
	if len(refused.Items) != 0 {
		t.Fatal("an event made while refused was stored")
	}
}

func fmtPtr(p *int64) string {
	if p == nil {
		return "null"
	}
	return fmt.Sprint(*p)
}

// Visitor data in the browser: the welcome snapshot, an update of a
// browser-writable namespace, the refusal of another, and a backend's
// REST write pushed to the open page.
func TestVisitorDataInBrowser(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--browser-writable", "prefs")
	tab := newBrowser(t)
	open(t, tab, c.URL()+"/demo/")
	id := connected(t, tab)
	eval(t, tab, `window.seen = []; visitrack.visitorData.onChange((d, v) => seen.push({d, v})), true`, new(bool))
	waitPage(t, tab, "the first callback", `seen.length === 1`)

	var got struct {
		Prefs struct{ Theme string } `json:"prefs"`
	}
	eval(t, tab, `visitrack.visitorData.update('prefs', {theme: 'dark'})`, &got)
	if got.Prefs.Theme != "dark" {
		t.Fatalf("update resolved with %+v", got)
	}
	var code string
	eval(t, tab, `visitrack.visitorData.update('loyalty', {tier: 'gold'}).then(() => 'written', e => e.code)`, &code)
	if code != "namespace_not_writable" {
		t.Fatalf("update of a namespace browsers may not write: %q", code)
	}
	status, body := c.get("/v1/visitors/" + id.VisitorID + "/visitor-data")
	if status != http.StatusOK || !strings.Contains(string(body), `"theme":"dark"`) || strings.Contains(string(body), "loyalty") {
		t.Fatalf("stored visitor data: %d %s", status, body)
	}

	// A backend writes its namespace: the page hears of it.
	status, body = collectortest.Request(t, c.URL(), c.AdminToken, "PATCH", "/v1/visitors/"+id.VisitorID+"/visitor-data/loyalty",
		`{"tier":"gold"}`, "Content-Type", "application/merge-patch+json")
	if status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", status, body)
	}
	waitPage(t, tab, "the pushed change", `seen.some(s => s.d.loyalty && s.d.loyalty.tier === 'gold' && s.d.prefs.theme === 'dark')`)
	eval(t, tab, `visitrack.visitorData.get().then(d => d.loyalty.tier)`, &code)
	if code != "gold" {
		t.Fatalf("get() after the push: %q", code)
	}
}

// Tabs share the visit through the _vt_visit cookie.
func TestVisitSharedByTabs(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	browser := newBrowser(t)
	open(t, browser, c.URL()+"/demo/")
	a := connected(t, browser)
	tab := newTab(t, browser)
	open(t, tab, c.URL()+"/demo/help.html")
	b := connected(t, tab)
	if a.VisitID != b.VisitID || a.VisitorID != b.VisitorID || a.PageID == b.PageID {
		t.Fatalf("tabs %+v and %+v", a, b)
	}
	evs := c.waitEvents(a.VisitID, "both pages", func(evs []collector.Event) bool { return count(evs, "PageEntered") == 2 })
	if count(evs, "VisitStarted") != 1 {
		t.Fatalf("events %s", names(evs))
	}
}

// A page whose tracker cannot load keeps working: with the collector down
// gt.js never arrives; with the wasm missing, window.visitrack's promises
// reject and the page goes on.
func TestPageWorksWhenTrackerFails(t *testing.T) {
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	site := siteServer(t, func() string { return deadURL }, `{}`)
	tab := newBrowser(t)
	run(t, tab, chromedp.Navigate(site+"/landing"))
	waitPage(t, tab, "the page to load", `document.readyState === 'complete' && document.querySelector('h1').textContent === 'Partner'`)
	var queued int
	eval(t, tab, `_gt.push(['event', 'Later']), _gt.length`, &queued)
	if queued != 3 {
		t.Fatalf("%d commands queued, want config, PartnerLanding and Later", queued)
	}

	noWasm := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, ".wasm") {
			http.NotFound(w, r)
			return
		}
		web.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(noWasm.Close)
	site = siteServer(t, func() string { return noWasm.URL }, `{}`)
	run(t, tab, chromedp.Navigate(site+"/landing"))
	waitPage(t, tab, "the loader to give up", `!!_gt.failed`)
	var msg string
	eval(t, tab, `visitrack.track('X').then(() => 'resolved', e => e.message)`, &msg)
	if !strings.Contains(msg, "did not load") {
		t.Fatalf("track after a failed load: %q", msg)
	}
}
