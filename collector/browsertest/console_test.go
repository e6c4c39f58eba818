//go:build browser

package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
)

// The operator console at /console/: a visitor browses the demo in one
// tab, the operator follows in another, through the REST API with a
// bearer token. Everything asserted is what the console rendered.
func TestConsole(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	visitor := newBrowser(t)
	open(t, visitor, c.URL()+"/demo/")
	id := connected(t, visitor)

	// Strings from the visitor's browser that would run script in the
	// console if it ever put them in innerHTML: a business event's data
	// and a page title.
	const evil = `<img src=x onerror=window.pwned=1>`
	eval(t, visitor, `visitrack.track('Note', {text: `+consoleJS(evil)+`}).then(() => true)`, new(bool))
	eval(t, visitor, `visitrack.page({title: `+consoleJS(evil)+`}).then(() => true)`, new(bool))
	c.waitEvents(id.VisitID, "the note and the second page", func(evs []collector.Event) bool {
		return count(evs, "Note") == 1 && count(evs, "PageEntered") == 2
	})

	op := newTab(t, visitor)
	run(t, op, chromedp.Navigate(c.URL()+"/console/"))
	waitPage(t, op, "the console", `document.body.dataset.ready === '1'`)

	// A token the collector does not know: the 401 problem, said plainly.
	consoleUseToken(t, op, "not-a-real-token")
	waitPage(t, op, "the 401 message", consoleText("#auth-error")+`.includes('401 Unauthorized: the collector refused this token')`)

	// The admin token: the console opens on the overview; the visit is in
	// the list of visits, newest first.
	consoleUseToken(t, op, c.AdminToken)
	waitPage(t, op, "the overview", `!document.getElementById('view-overview').classList.contains('hidden')`)
	run(t, op, chromedp.Click(`#nav a[data-view=visits]`, chromedp.ByQuery))
	waitPage(t, op, "the visit in the list", `!!document.querySelector('#visits a[data-visit="`+id.VisitID+`"]')`)
	waitPage(t, op, "the 401 message to go", `!document.getElementById('auth-error')`)
	var kept bool
	eval(t, op, `sessionStorage.getItem('vt-console-token') === `+consoleJS(c.AdminToken)+
		` && !document.cookie.includes(`+consoleJS(c.AdminToken)+`) && !JSON.stringify(localStorage).includes(`+consoleJS(c.AdminToken)+`)`, &kept)
	if !kept {
		t.Fatal("the token is not (only) in sessionStorage")
	}

	// The visit's detail: its fields, pages and events.
	run(t, op, chromedp.Click(`#visits a[data-visit="`+id.VisitID+`"]`, chromedp.ByQuery))
	waitPage(t, op, "the visit's fields", consoleText("#visit-fields")+`.includes(`+consoleJS(id.VisitID)+`) && `+consoleText("#visit-fields")+`.includes(`+consoleJS(id.VisitorID)+`)`)
	waitPage(t, op, "the visit's events", `(n => ['VisitStarted', 'PageEntered', 'PageExited', 'Note'].every(x => n.includes(x)))(`+
		`[...document.querySelectorAll('#visit-events tr[data-name]')].map(r => r.dataset.name))`)
	waitPage(t, op, "the visit's pages", `document.querySelectorAll('#visit-pages tbody tr').length === 2`)
	// The visitor's strings are shown as text, and nothing ran.
	waitPage(t, op, "the note's data as text", consoleText("#visit-events")+`.includes(`+consoleJS(evil)+`)`)
	waitPage(t, op, "the page title as text", consoleText("#visit-pages")+`.includes(`+consoleJS(evil)+`)`)
	consoleNoScript(t, op)

	// Internal metadata: empty, then what a backend wrote.
	waitPage(t, op, "metadata version 0", consoleText("#metadata-version")+`.startsWith('0')`)
	status, body := collectortest.Request(t, c.URL(), c.AdminToken, "PUT", "/v1/visits/"+id.VisitID+"/metadata",
		map[string]any{"crm": map[string]any{"ticket": "T-42", "note": evil}})
	if status != http.StatusOK {
		t.Fatalf("PUT metadata: %d %s", status, body)
	}
	run(t, op, chromedp.Click(`#visit-refresh`, chromedp.ByQuery))
	waitPage(t, op, "the metadata", consoleText("#metadata-data")+`.includes('T-42') && `+consoleText("#metadata-version")+`.startsWith('1')`)

	// The live feed: an event the visitor makes after it started, and a
	// visitor-data change written by a backend.
	run(t, op, chromedp.Click(`#nav a[data-view=live]`, chromedp.ByQuery), chromedp.Click(`#live-follow`, chromedp.ByQuery))
	waitPage(t, op, "the feed to connect", `document.getElementById('live-status').dataset.state === 'ok'`)
	eval(t, visitor, `visitrack.track('LiveProbe', {text: `+consoleJS(evil)+`}).then(() => true)`, new(bool))
	waitPage(t, op, "the live event", consoleFeedRow("event", `r.dataset.visitId === `+consoleJS(id.VisitID)+` && r.textContent.includes('LiveProbe') && r.textContent.includes(`+consoleJS(evil)+`)`))
	status, body = collectortest.Request(t, c.URL(), c.AdminToken, "PATCH", "/v1/visitors/"+id.VisitorID+"/visitor-data/crm",
		`{"tier":"gold"}`, "Content-Type", "application/merge-patch+json")
	if status != http.StatusOK {
		t.Fatalf("PATCH visitor data: %d %s", status, body)
	}
	waitPage(t, op, "the live visitor-data change", consoleFeedRow("visitorData", `r.dataset.subject === `+consoleJS("visitor:"+id.VisitorID)+` && r.textContent.includes('gold') && r.textContent.includes('version 1')`))
	consoleNoScript(t, op)

	// Paused, the feed keeps what arrives and shows it on resume.
	run(t, op, chromedp.Click(`#live-pause`, chromedp.ByQuery))
	waitPage(t, op, "paused", consoleText("#live-status")+`.startsWith('paused')`)
	eval(t, visitor, `visitrack.track('WhilePaused', {}).then(() => true)`, new(bool))
	c.waitEvents(id.VisitID, "WhilePaused", func(evs []collector.Event) bool { return count(evs, "WhilePaused") == 1 })
	waitPage(t, op, "the event kept while paused", consoleText("#live-pause")+`.includes('new)')`)
	var shown bool
	eval(t, op, consoleText("#live-feed")+`.includes('WhilePaused')`, &shown)
	if shown {
		t.Fatal("the paused feed showed a new event")
	}
	run(t, op, chromedp.Click(`#live-pause`, chromedp.ByQuery))
	waitPage(t, op, "the event after resuming", consoleFeedRow("event", `r.textContent.includes('WhilePaused')`))

	// The visitor's page: its visits, and its visitor data with the
	// version and ETag.
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/visitor/"+id.VisitorID))
	waitPage(t, op, "the visitor data", consoleText("#lookup-result .vd-version")+` === '1' && `+consoleText("#lookup-result .vd-data")+`.includes('gold') && `+
		consoleText("#lookup-result")+`.includes('"1"')`)
	waitPage(t, op, "the visitor's visits", `!!document.querySelector('#lookup-result a[data-visit="`+id.VisitID+`"]')`)

	// A token without metadata:read sees the visit and a clear note where
	// the metadata would be.
	s, closeDB, err := daemon.OpenStore(c.dir)
	if err != nil {
		t.Fatal(err)
	}
	_, narrow, err := s.CreateToken(context.Background(), []string{collector.ScopeHistoryRead})
	closeDB()
	if err != nil {
		t.Fatal(err)
	}
	consoleUseToken(t, op, narrow)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/visit/"+id.VisitID))
	waitPage(t, op, "the visit with the narrow token", consoleText("#visit-fields")+`.includes(`+consoleJS(id.VisitorID)+`)`)
	waitPage(t, op, "the note on metadata", consoleText("#visit-metadata .flash[data-status='403']")+`.includes('403 Forbidden: this token lacks the scope metadata:read')`)
	consoleNoScript(t, op)
}

// consoleJS quotes s as a JavaScript string.
func consoleJS(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// consoleText is the expression of the text of the first element that
// selector matches (empty when none).
func consoleText(selector string) string {
	return `((document.querySelector(` + consoleJS(selector) + `) || {}).textContent || '')`
}

// consoleFeedRow is the expression "a row of kind in the live feed
// satisfies cond (of r)".
func consoleFeedRow(kind, cond string) string {
	return `[...document.querySelectorAll('#live-feed tr[data-kind=` + kind + `]')].some(r => ` + cond + `)`
}

// consoleNoScript checks that no visitor-sent markup became an element or ran.
func consoleNoScript(t *testing.T, tab context.Context) {
	t.Helper()
	var clean bool
	eval(t, tab, `document.querySelectorAll('img').length === 0 && window.pwned === undefined`, &clean)
	if !clean {
		t.Fatal("visitor-sent markup was rendered as HTML")
	}
}

// consoleUseToken submits the console's token form.
func consoleUseToken(t *testing.T, tab context.Context, token string) {
	t.Helper()
	run(t, tab,
		chromedp.SetValue(`#token`, token, chromedp.ByQuery),
		chromedp.Click(`#token-form button[type=submit]`, chromedp.ByQuery))
}
