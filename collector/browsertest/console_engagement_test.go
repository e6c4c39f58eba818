//go:build browser

package browsertest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestConsoleEngagementWithoutServerSide: the console's Engagement page
// renders against a collector whose engagement endpoints answer 404 (or
// that has no engagement events): it says there are no rules and no
// offers, and its dry run form is disabled with a note, instead of
// failing or spinning.
func TestConsoleEngagementWithoutServerSide(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	op := newBrowser(t)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/engagement"))
	waitPage(t, op, "the console", `document.body.dataset.ready === '1'`)
	waitPage(t, op, "the page without a token", `!document.getElementById('view-engagement').classList.contains('hidden') && `+
		consoleText("#eg-rules")+`.includes('token')`)
	consoleUseToken(t, op, c.AdminToken)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/engagement"))
	waitPage(t, op, "the Engagement view", `!document.getElementById('view-engagement').classList.contains('hidden')`)
	waitPage(t, op, "no rules", `!!document.getElementById('eg-no-rules') || `+consoleText("#eg-rules")+`.includes('No rules yet')`)
	waitPage(t, op, "no offers", `!!document.getElementById('eg-no-offers') || `+consoleText("#eg-offers")+`.includes('No offers')`)
	var state struct {
		Disabled bool
		Note     string
		Here     bool
	}
	eval(t, op, `({disabled: [...document.getElementById('eg-dry').elements].every(e => e.disabled),
		note: `+consoleText("#eg-dry-note")+`,
		here: document.querySelector('#nav a[data-view=engagement]').classList.contains('here')})`, &state)
	if !state.Disabled || state.Note == "" || !state.Here {
		t.Fatalf("the dry run form and the nav: %+v", state)
	}
	// Refresh on the empty page keeps it usable.
	run(t, op, chromedp.Click(`#eg-refresh`, chromedp.ByQuery))
	waitPage(t, op, "no rules again", `!!document.getElementById('eg-no-rules') || `+consoleText("#eg-rules")+`.includes('No rules yet')`)
}

// TestConsoleEngagementDryRun: the dry run form, on a collector with a
// rule and a past visit, calls the dry run and says in a sentence when
// the rule would have offered, with the moments it was checked; nothing
// is offered. An unknown visit is an error in the page, not the end of
// the form.
func TestConsoleEngagementDryRun(t *testing.T) {
	c := startCollector(t, t.TempDir(), "127.0.0.1:0")
	post := func(path string, body any, header ...string) []byte {
		t.Helper()
		status, b := collectortest.Request(t, c.URL(), c.AdminToken, "POST", path, body, header...)
		if status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, status, b)
		}
		return b
	}
	post("/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/products"}}]}`)
	events := []protocol.Event{collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil),
		collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil), collectortest.Event("AddToCart", "", nil)}
	events[0].URL, events[1].URL = c.URL()+"/products/1", c.URL()+"/products/2"
	events[2].PageID = events[1].PageID
	var visit struct{ VisitID string }
	json.Unmarshal(post("/v1/collect", map[string]any{"sentAt": time.Now().UTC().Format(time.RFC3339Nano), "events": events}, "Origin", c.URL()), &visit)
	var rule struct{ ID string }
	json.Unmarshal(post("/v1/engagement/rules", `{"name": "two products", "when": [{"count": {"atLeast": 2, "within": "10m", "of": {"page": {"category": "products"}}}}],
	 "then": {"offer": {"channel": "chat"}}}`), &rule)

	op := newBrowser(t)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/engagement"))
	waitPage(t, op, "the console", `document.body.dataset.ready === '1'`)
	consoleUseToken(t, op, c.AdminToken)
	run(t, op, chromedp.Navigate(c.URL()+"/console/#/engagement"))
	waitPage(t, op, "the rule in the list and the form enabled", `!!document.querySelector('#eg-rules tr[data-rule="`+rule.ID+`"]') && `+
		`[...document.getElementById('eg-dry').elements].every(e => !e.disabled)`)
	run(t, op, chromedp.SetValue(`#eg-dry-visit`, visit.VisitID, chromedp.ByQuery), chromedp.Click(`#eg-dry button[type=submit]`, chromedp.ByQuery))
	waitPage(t, op, "the dry run's answer", consoleText("#eg-dry-summary")+`.includes('Would have offered')`)
	var got struct {
		Summary  string
		Outcomes []string
	}
	eval(t, op, `({summary: `+consoleText("#eg-dry-summary")+`,
		outcomes: [...document.querySelectorAll('#eg-dry-result tr.eg-dry-cand')].map(r => r.dataset.outcome)})`, &got)
	if !strings.Contains(got.Summary, "/products/2") || strings.Join(got.Outcomes, ",") != "unmet,offered" {
		t.Fatalf("the dry run in the page: %+v", got)
	}
	if evs := c.events(visit.VisitID); count(evs, protocol.EventEngagementOffered) != 0 {
		t.Fatalf("the dry run made an offer: %s", names(evs))
	}

	run(t, op, chromedp.SetValue(`#eg-dry-visit`, collectortest.NewID(), chromedp.ByQuery), chromedp.Click(`#eg-dry button[type=submit]`, chromedp.ByQuery))
	waitPage(t, op, "the unknown visit's error", consoleText("#eg-dry-result")+`.includes('not found')`)
	var enabled bool
	eval(t, op, `[...document.getElementById('eg-dry').elements].every(e => !e.disabled)`, &enabled)
	if !enabled {
		t.Fatal("an unknown visit disabled the dry run form")
	}
}
