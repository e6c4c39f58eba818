//go:build browser

package browsertest

import (
	"testing"

	"github.com/chromedp/chromedp"
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
