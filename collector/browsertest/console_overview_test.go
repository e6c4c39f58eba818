//go:build browser

package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Real browsers' user agents, as the collector's enrichment sees them.
const (
	overviewChrome    = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	overviewFirefox   = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
	overviewIPhone    = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
	overviewGooglebot = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
)

// overviewPage is a page view of a seeded visit.
type overviewPage struct{ url, title string }

// overviewVisit sends one visit through /v1/collect as a browser with
// userAgent: its pages, then extra events (a sign-in, a user id), in one
// batch. It returns the collector's visitId.
func overviewVisit(t *testing.T, c *collectorProc, userAgent string, pages []overviewPage, extra ...protocol.Event) string {
	t.Helper()
	var events []protocol.Event
	for i, p := range pages {
		pageID := collectortest.NewID()
		if i == 0 {
			e := collectortest.Event(protocol.EventVisitStarted, pageID, nil)
			e.URL = p.url
			events = append(events, e)
		}
		e := collectortest.Event(protocol.EventPageEntered, pageID, nil)
		e.URL, e.Title = p.url, p.title
		events = append(events, e)
	}
	for _, e := range extra {
		e.URL = pages[len(pages)-1].url
		events = append(events, e)
	}
	status, body := collectortest.Request(t, c.URL(), "", "POST", "/v1/collect",
		map[string]any{"events": events}, "User-Agent", userAgent)
	var res protocol.CollectResponse
	if status != http.StatusOK || json.Unmarshal(body, &res) != nil || len(res.Ack.Rejected) > 0 || res.VisitID == "" {
		t.Fatalf("collect as %q: %d %s", userAgent, status, body)
	}
	return res.VisitID
}

// TestConsoleOverview seeds visits through /v1/collect with real user
// agents, opens the console's overview in headless Chromium and checks
// the figures it shows against the hand-counted seed: the summary, the
// chart's totals by state, breakdown rows, the live list (refreshing by
// itself), and that a visitor's markup is shown as text.
func TestConsoleOverview(t *testing.T) {
	// A secret makes the proof-less sign-in below unverified.
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--identity-secret", "overview-test-secret")
	const evil = `<img src=x onerror=window.pwned=1>`
	campaign := "https://shop.example/?utm_source=news&utm_medium=email&utm_campaign=" + url.QueryEscape(evil)

	// 1, Chrome on Windows: three pages, from a campaign with markup in
	// its name. Anonymous.
	chrome := overviewVisit(t, c, overviewChrome, []overviewPage{
		{campaign, "Home"}, {"https://shop.example/shoes", "Shoes"}, {"https://shop.example/cart", "Cart"}})
	// 2, Firefox on Linux: one page (a bounce) titled with markup; a bare
	// user id makes it recognized.
	firefox := overviewVisit(t, c, overviewFirefox, []overviewPage{{"https://shop.example/shoes", evil}},
		collectortest.Event(protocol.EventUserInfo, collectortest.NewID(), map[string]any{"userId": "fay@example.com"}))
	// 3, Safari on an iPhone: two pages and a sign-in: authenticated, and
	// with no proof, unverified.
	iphone := overviewVisit(t, c, overviewIPhone, []overviewPage{
		{"https://shop.example/shoes", "Shoes"}, {"https://shop.example/cart", "Cart"}},
		collectortest.Event(protocol.EventSignIn, collectortest.NewID(), map[string]any{"userId": "ivy@example.com"}))
	// A crawler: one page, left out unless bots are included.
	overviewVisit(t, c, overviewGooglebot, []overviewPage{{"https://shop.example/", "Home"}})

	browser := newBrowser(t)
	run(t, browser, chromedp.Navigate(c.URL()+"/console/"))
	waitPage(t, browser, "the console", `document.body.dataset.ready === '1'`)
	waitPage(t, browser, "the overview, asking for a token",
		`!document.getElementById('view-overview').classList.contains('hidden') && `+consoleText("#ov-msg")+`.includes('Paste an API token')`)
	consoleUseToken(t, browser, c.AdminToken)
	waitPage(t, browser, "the overview's figures", `!!document.getElementById('view-overview').dataset.loaded`)

	// The summary, bots left out: 3 visits of 3 visitors, 3 + 1 + 2 page
	// views, one bounce in three, two of three identified, none verified.
	for stat, want := range map[string]string{
		"visits": "3", "visitors": "3", "pageviews": "6", "bounceRate": "33.3 %", "identified": "66.7 %", "verified": "0",
	} {
		if got := overviewText(t, browser, `#ov-kpis [data-stat="`+stat+`"]`); got != want {
			t.Errorf("summary %s: the overview shows %q, want %q", stat, got, want)
		}
	}
	// The chart: one visit of each state.
	for _, state := range []string{"anonymous", "recognized", "authenticated"} {
		if got := overviewText(t, browser, `#ov-totals [data-state="`+state+`"] strong`); got != "1" {
			t.Errorf("chart total of %s: %q, want 1", state, got)
		}
	}
	waitPage(t, browser, "the chart", `document.querySelectorAll('#ov-chart canvas').length === 1`)
	// Breakdown rows: /shoes was viewed in all three visits, /cart in two.
	for sel, want := range map[string]string{
		`[data-dimension=page] tr[data-value="https://shop.example/shoes"]`: "/shoes3",
		`[data-dimension=page] tr[data-value="https://shop.example/cart"]`:  "/cart2",
		`[data-dimension=deviceType] tr[data-value=desktop]`:                "Desktop2",
		`[data-dimension=browser] tr[data-value=Safari]`:                    "Safari1",
		`[data-dimension=utmCampaign] tr:first-child`:                       "(no campaign)2",
	} {
		if got := overviewText(t, browser, `#view-overview `+sel); got != want {
			t.Errorf("breakdown %s: %q, want %q", sel, got, want)
		}
	}
	if got := overviewText(t, browser, `#view-overview [data-dimension=page] tr:first-child`); got != "/shoes3" {
		t.Errorf("top page: %q, want /shoes with 3 views first", got)
	}

	// The live list: the three people, not the crawler; each row links to
	// its visit, an identified one to its identity by user id.
	waitPage(t, browser, "the live list", consoleText("#ov-live-count")+` === '3'`)
	for _, id := range []string{chrome, firefox, iphone} {
		var linked bool
		eval(t, browser, `(a => !!a && a.getAttribute('href') === '#/visit/`+id+`')(document.querySelector('#ov-live a[data-visit="`+id+`"]'))`, &linked)
		if !linked {
			t.Errorf("live visit %s has no link to its visit", id)
		}
	}
	if got := overviewText(t, browser, `#ov-live tr[data-visit-id="`+iphone+`"] a[data-identity]`); got != "ivy@example.com" {
		t.Errorf("the signed-in live visit shows %q, want its user id", got)
	}

	// Markup that visitors sent (a page title, a campaign name) is text.
	waitPage(t, browser, "the title with markup, as text", consoleText(`#ov-live a[data-visit="`+firefox+`"]`)+` === `+consoleJS(evil))
	waitPage(t, browser, "the campaign with markup, as text", consoleText(`#view-overview [data-dimension=utmCampaign]`)+`.includes(`+consoleJS(evil)+`)`)
	consoleNoScript(t, browser)

	// The live list refreshes itself: a new visit shows up with no click.
	overviewVisit(t, c, overviewChrome, []overviewPage{{"https://shop.example/new", "New"}})
	waitPage(t, browser, "the live list to refresh by itself", consoleText("#ov-live-count")+` === '4'`)

	// Bots included: the crawler's visit and page view count.
	loaded := overviewText(t, browser, `#ov-kpis [data-stat="visits"]`)
	run(t, browser, chromedp.Click(`#ov-bots`, chromedp.ByQuery))
	waitPage(t, browser, "the figures with bots", consoleText(`#ov-kpis [data-stat="visits"]`)+` === '5' && `+
		consoleText(`#ov-kpis [data-stat="pageviews"]`)+` === '8'`)
	if loaded != "3" {
		t.Errorf("visits before the bot toggle: %q", loaded)
	}
	// The 30-day period asks for days.
	run(t, browser, chromedp.Click(`#ov-period button[data-period="30d"]`, chromedp.ByQuery))
	waitPage(t, browser, "the 30-day chart", consoleText("#ov-chart-note")+` === 'visits a day' && `+consoleText(`#ov-kpis [data-stat="visits"]`)+` === '5'`)

	// A live row leads to the visit's page.
	run(t, browser, chromedp.Click(`#ov-live a[data-visit="`+iphone+`"]`, chromedp.ByQuery))
	waitPage(t, browser, "the visit from the live list", consoleText("#visit-fields")+`.includes(`+consoleJS(iphone)+`)`)
	consoleNoScript(t, browser)

	// stats:read is enough for the overview, without the user ids; a
	// token that may not read stats is told so where the figures would be.
	st, closeDB, err := daemon.OpenStore(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	_, statsOnly, err1 := st.CreateToken(context.Background(), []string{collector.ScopeStatsRead})
	_, vdOnly, err2 := st.CreateToken(context.Background(), []string{collector.ScopeVisitorDataRead})
	closeDB()
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	run(t, browser, chromedp.Navigate(c.URL()+"/console/#/overview"))
	consoleUseToken(t, browser, statsOnly)
	waitPage(t, browser, "the overview with stats:read (bots still included)", consoleText(`#ov-kpis [data-stat="visits"]`)+` === '5' && `+consoleText("#ov-live-count")+` === '4'`)
	if got := overviewText(t, browser, `#ov-live tr[data-visit-id="`+iphone+`"] a[data-identity]`); got == "" || strings.Contains(got, "ivy@") {
		t.Errorf("a stats:read token's live list shows %q for the signed-in visit, want its identity without the user id", got)
	}
	consoleUseToken(t, browser, vdOnly)
	waitPage(t, browser, "the 403 on the overview", consoleText(`#ov-msg .flash[data-status='403']`)+`.includes('stats:read')`)
	if got := overviewText(t, browser, `#ov-kpis [data-stat="visits"]`); got != "–" {
		t.Errorf("the refused token's overview shows %q visits, want –", got)
	}

	if dir := os.Getenv("VISITRACK_SCREENSHOTS"); dir != "" {
		consoleUseToken(t, browser, c.AdminToken)
		overviewScreenshots(t, browser, c.URL()+"/console/#/overview", dir)
	}
}

// overviewText is the text of the first element selector matches.
func overviewText(t *testing.T, tab context.Context, selector string) string {
	t.Helper()
	var s string
	eval(t, tab, consoleText(selector), &s)
	return s
}

// overviewScreenshots saves the overview at desktop and phone widths, to
// look at (VISITRACK_SCREENSHOTS=dir).
func overviewScreenshots(t *testing.T, tab context.Context, page, dir string) {
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1280, 800}, {"phone", 390, 844}} {
		var png []byte
		run(t, tab, chromedp.EmulateViewport(size.w, size.h), chromedp.Navigate("about:blank"), chromedp.Navigate(page))
		waitPage(t, tab, "the overview", `!!document.getElementById('view-overview').dataset.loaded && !!document.querySelector('#ov-live tr')`)
		run(t, tab, chromedp.FullScreenshot(&png, 100))
		if err := os.WriteFile(filepath.Join(dir, "overview-"+size.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
