//go:build browser

package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector/identity"
)

// shopPage serves a site's page that embeds the tracker of the collector
// at collector, with the given config entries (JavaScript object
// members), and a link to pay (another site, for the handoff).
func shopPage(t *testing.T, collector *string, config string, pay *string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>%s</title>
<script>window._gt = window._gt || []; _gt.push(['config', {collector: %q, %s}]);</script>
<script async src="%s/gt.js"></script>
<a id="pay" href="%s/pay.html?order=7#top">Pay</a>`, r.URL.Path, *collector, config, *collector, *pay)
	}))
	t.Cleanup(s.Close)
	return s
}

// browserCookies returns the cookies the browser holds for url,
// HttpOnly ones included.
func browserCookies(t *testing.T, tab context.Context, url string) map[string]*network.Cookie {
	t.Helper()
	var cs []*network.Cookie
	run(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		cs, err = network.GetCookies().WithURLs([]string{url}).Do(ctx)
		return err
	}))
	m := map[string]*network.Cookie{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

func waitCookie(t *testing.T, tab context.Context, url, name string, present bool) *network.Cookie {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		c := browserCookies(t, tab, url)[name]
		if (c != nil) == present {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("cookie %s for %s: want present=%v", name, url, present)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitVisitEnded(t *testing.T, c *collectorProc, visitID string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for c.visit(visitID).EndedAt == nil {
		if time.Now().After(deadline) {
			t.Fatalf("visit %s did not time out", visitID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const secret = "demo-secret"

// Server mode: a page on the collector's own site (127.0.0.1, another
// port). The collector keeps the cookies: document.cookie never shows
// _vt_uid (nor _vt_key), which the browser holds HttpOnly, and the cookie
// alone recognizes the browser after its visit timed out. SignOut clears
// it.
func TestServerCookiesHttpOnly(t *testing.T) {
	var collectorURL, pay string
	site := shopPage(t, &collectorURL, `visitTimeoutMinutes: 0.03`, &pay)
	pay = site.URL
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--visit-timeout", "2s", "--identity-secret", secret,
		"--allowed-origins", site.URL)
	collectorURL = c.URL()
	browser := newBrowser(t)

	open(t, browser, site.URL+"/")
	before := connected(t, browser)
	var verified bool
	eval(t, browser, fmt.Sprintf(`visitrack.signIn('ann@example.com', {userHash: %q}).then(i => i.verified)`,
		identity.UserHash(secret, "ann@example.com")), &verified)
	if !verified {
		t.Fatal("signIn did not resolve verified")
	}
	uid := waitCookie(t, browser, collectorURL, "_vt_uid", true)
	key := waitCookie(t, browser, collectorURL, "_vt_key", true)
	if !uid.HTTPOnly || uid.SameSite != network.CookieSameSiteLax || uid.Path != "/" || !key.HTTPOnly {
		t.Fatalf("_vt_uid %+v, _vt_key %+v: want HttpOnly, Lax, Path=/", uid, key)
	}
	if ck := cookies(t, browser); strings.Contains(ck, "_vt_uid") || strings.Contains(ck, "_vt_key") {
		t.Fatalf("script sees %q", ck)
	}
	var mode string
	eval(t, browser, `localStorage.getItem('_vt_cm') || ''`, &mode)
	if mode == "" {
		t.Fatal("the tracker did not learn that the collector keeps the cookies")
	}

	run(t, browser, chromedp.Navigate("about:blank"))
	waitVisitEnded(t, c, before.VisitID)
	tab := newTab(t, browser)
	open(t, tab, site.URL+"/cart")
	back := connected(t, tab)
	if back.VisitID == before.VisitID || back.VisitorID != before.VisitorID {
		t.Fatalf("after the timeout: %+v, was %+v", back, before)
	}
	if back.State != "recognized" || !back.Verified || back.IdentityID == nil {
		t.Fatalf("not recognized from the HttpOnly cookie: %+v", back)
	}
	if ck := cookies(t, tab); strings.Contains(ck, "_vt_uid") {
		t.Fatalf("script sees %q", ck)
	}

	eval(t, tab, `visitrack.signOut().then(() => true)`, new(bool))
	waitCookie(t, tab, collectorURL, "_vt_uid", false)
}
