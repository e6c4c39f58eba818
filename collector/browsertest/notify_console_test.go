//go:build browser

package browsertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/oklog/ulid/v2"
)

// TestConsoleSendsNotification: the console's visit view sends a
// notification to the visit's open pages (docs/integrations.md#notifications); the demo's
// panel shows it as text, and the console says how many pages it reached.
// A visit with no open page is told it reached none.
func TestConsoleSendsNotification(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	visitor := newBrowser(t)
	open(t, visitor, c.URL()+"/demo/")
	id := connected(t, visitor)
	waitPage(t, visitor, "the demo panel", `!!document.getElementById('vt-notes')`)

	op := newTab(t, visitor)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/visit/"+id.VisitID))
	waitPage(t, op, "the console", `document.body.dataset.ready === '1'`)
	consoleUseToken(t, op, c.AdminToken)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/visit/"+id.VisitID))
	waitPage(t, op, "the visit view", `!document.getElementById('view-visit').classList.contains('hidden') && document.getElementById('visit-id').textContent === `+consoleJS(id.VisitID))

	const payload = `{"text":"<b>10% off</b>"}`
	run(t, op,
		chromedp.SetValue(`#visit-notify input[name=channel]`, "offers", chromedp.ByQuery),
		chromedp.SetValue(`#visit-notify input[name=data]`, payload, chromedp.ByQuery),
		chromedp.Click(`#visit-notify button`, chromedp.ByQuery))
	waitPage(t, op, "the answer", `(document.getElementById('visit-notify-delivered') || {dataset: {}}).dataset.delivered === '1'`)
	waitPage(t, visitor, "the notification in the panel",
		`[...document.querySelectorAll('#vt-notes li[data-id]')].some(li => li.textContent === 'offers '+`+consoleJS(payload)+`)`)
	var asText bool
	eval(t, visitor, `!document.querySelector('#vt-notes b')`, &asText)
	if !asText {
		t.Fatal("the notification's data was rendered as HTML")
	}

	// Bad JSON is refused in the console, and nothing is sent.
	run(t, op, chromedp.SetValue(`#visit-notify input[name=data]`, `{not json`, chromedp.ByQuery),
		chromedp.Click(`#visit-notify button`, chromedp.ByQuery))
	waitPage(t, op, "the JSON error", consoleText("#visit-notify-result")+`.includes('not JSON')`)

	// A visit with no open page (sent over HTTP): the console says the
	// notification reached nobody.
	body := `{"events":[{"eventId":"` + ulid.Make().String() + `","name":"PageEntered","timestamp":"` +
		time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00") + `","pageId":"` + ulid.Make().String() + `","url":"https://shop.example/"}]}`
	resp, err := http.Post(c.URL()+"/v1/collect", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var answer struct{ VisitID string }
	json.NewDecoder(resp.Body).Decode(&answer)
	resp.Body.Close()
	if answer.VisitID == "" {
		t.Fatalf("collect answered %d without a visit", resp.StatusCode)
	}
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/visit/"+answer.VisitID))
	waitPage(t, op, "the other visit", `document.getElementById('visit-id').textContent === `+consoleJS(answer.VisitID))
	run(t, op, chromedp.Evaluate(`document.getElementById('visit-notify-result').replaceChildren()`, nil),
		chromedp.SetValue(`#visit-notify input[name=data]`, `{"text":"anyone?"}`, chromedp.ByQuery),
		chromedp.Click(`#visit-notify button`, chromedp.ByQuery))
	waitPage(t, op, "nobody reached", `(document.getElementById('visit-notify-delivered') || {dataset: {}}).dataset.delivered === '0'`)
}

// TestLeavingPageIsNoLongerOpen: a page the visitor leaves closes its
// WebSocket (pagehide), so that notifications and the live list no longer
// count it, even where the browser keeps it in the back-forward cache.
func TestLeavingPageIsNoLongerOpen(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	b := newBrowser(t)
	open(t, b, c.URL()+"/demo/")
	id := connected(t, b)
	delivered := func() int {
		req, _ := http.NewRequest("POST", c.URL()+"/v1/visits/"+id.VisitID+"/notifications", strings.NewReader(`{"channel":"probe","data":1}`))
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a struct{ Delivered int }
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("notify: %d %v", resp.StatusCode, err)
		}
		return a.Delivered
	}
	if n := delivered(); n != 1 {
		t.Fatalf("the open page: delivered %d, want 1", n)
	}
	run(t, b, chromedp.Navigate("about:blank"))
	waitFor(t, "the page to be no longer open", func() bool { return delivered() == 0 })
}
