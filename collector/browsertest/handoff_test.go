//go:build browser

package browsertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector/identity"
)

// The handoff between two sites on different hosts: the shop at
// 127.0.0.1 and the payment pages at localhost (another site, so no
// cookie is shared). A verified shopper who clicks the link to pay is
// the same visitor there, recognized and verified; the token leaves the
// address bar, works once, and garbage in _vt_x is ignored.
func TestHandoffBetweenSites(t *testing.T) {
	var collectorURL, payURL, shopURL string
	shop := shopPage(t, &collectorURL, `linkDomains: ['localhost']`, &payURL)
	pay := shopPage(t, &collectorURL, ``, &shopURL)
	shopURL = shop.URL
	payURL = strings.Replace(pay.URL, "127.0.0.1", "localhost", 1)
	c := startCollector(t, t.TempDir(), "127.0.0.1:0", "--identity-secret", secret,
		"--allowed-origins", shopURL+","+payURL)
	collectorURL = c.URL()

	browser := newBrowser(t)
	open(t, browser, shopURL+"/")
	shopper := connected(t, browser)
	var verified bool
	eval(t, browser, fmt.Sprintf(`visitrack.signIn('ann@example.com', {userHash: %q}).then(i => i.verified)`,
		identity.UserHash(secret, "ann@example.com")), &verified)
	if !verified {
		t.Fatal("signIn did not resolve verified")
	}
	signedIn := pageIDs(t, browser)

	// A token on demand, for the other browsers below.
	var decorated string
	eval(t, browser, `new Promise(r => _gt.push(['decorate', '`+payURL+`/pay.html?order=8#top', r]))`, &decorated)
	if !strings.Contains(decorated, "_vt_x=") || !strings.HasSuffix(decorated, "#top") || !strings.Contains(decorated, "order=8") {
		t.Fatalf("decorate gave %q", decorated)
	}

	// The link click.
	run(t, browser, chromedp.Click("#pay", chromedp.ByID))
	waitPage(t, browser, "the payment page", `location.host === '`+strings.TrimPrefix(payURL, "http://")+`' && !!(window._gt && window._gt.tracker)`)
	there := connected(t, browser)
	if there.VisitorID != shopper.VisitorID || there.State != "recognized" || !there.Verified ||
		there.IdentityID == nil || *there.IdentityID != *signedIn.IdentityID {
		t.Fatalf("on the payment site: %+v, want visitor %s recognized as %s", there, shopper.VisitorID, *signedIn.IdentityID)
	}
	var href string
	eval(t, browser, `location.href`, &href)
	if strings.Contains(href, "_vt_x") || !strings.Contains(href, "order=7") {
		t.Fatalf("address after the handoff: %s", href)
	}

	// The decorated URL, once in a fresh browser: adopted.
	other := newBrowser(t)
	open(t, other, decorated)
	adopted := connected(t, other)
	if adopted.VisitorID != shopper.VisitorID || !adopted.Verified {
		t.Fatalf("fresh browser with the token: %+v", adopted)
	}
	// The same token again: ignored, and nothing of the shopper shows.
	third := newBrowser(t)
	open(t, third, decorated)
	if got := connected(t, third); got.VisitorID == shopper.VisitorID || got.Verified || got.IdentityID != nil || got.State != "anonymous" {
		t.Fatalf("reused token: %+v", got)
	}
	// Garbage in _vt_x: ignored, and out of the address bar.
	fourth := newBrowser(t)
	open(t, fourth, payURL+"/pay.html?_vt_x=%3Cscript%3E&order=9")
	if got := connected(t, fourth); got.VisitorID == shopper.VisitorID || got.Verified {
		t.Fatalf("garbage token: %+v", got)
	}
	eval(t, fourth, `location.href`, &href)
	if strings.Contains(href, "_vt_x") || !strings.Contains(href, "order=9") {
		t.Fatalf("address with garbage: %s", href)
	}
}
