//go:build browser

package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
)

// handoffSites starts the shop at 127.0.0.1 and the payment pages at
// localhost (another site, so no cookie is shared), both linked by
// handoff, and a collector for both.
func handoffSites(t *testing.T, flags ...string) (c *collectorProc, shopURL, payURL string) {
	var collectorURL string
	shop := shopPage(t, &collectorURL, `linkDomains: ['localhost']`, &payURL)
	pay := shopPage(t, &collectorURL, ``, &shopURL)
	shopURL = shop.URL
	payURL = strings.Replace(pay.URL, "127.0.0.1", "localhost", 1)
	c = startCollector(t, t.TempDir(), "127.0.0.1:0", append([]string{"--identity-secret", secret,
		"--allowed-origins", shopURL + "," + payURL}, flags...)...)
	collectorURL = c.URL()
	return c, shopURL, payURL
}

// arrivedFrom returns the fromVisitorId of the visit's HandoffArrived
// events.
func arrivedFrom(c *collectorProc, visitID string) []string {
	var from []string
	for _, e := range c.events(visitID) {
		var d struct {
			From string `json:"fromVisitorId"`
		}
		if e.Name == "HandoffArrived" && json.Unmarshal(e.Data, &d) == nil {
			from = append(from, d.From)
		}
	}
	return from
}

// signInAs signs the page in with a proof and returns the identity, or
// fails unless it is verified.
func signInAs(t *testing.T, tab context.Context, userID string) string {
	t.Helper()
	var id string
	eval(t, tab, fmt.Sprintf(`visitrack.signIn(%q, {userHash: %q}).then(i => i.verified ? i.identityId : '')`,
		userID, identity.UserHash(secret, userID)), &id)
	if id == "" {
		t.Fatalf("%s's signIn did not resolve verified", userID)
	}
	return id
}

// TestHandoffBetweenSites: a verified shopper who clicks the link to pay
// stays herself there (docs/security.md#handoff-link): the payment
// site's visit records where she came from, and nothing of her identity
// comes along with the link; the token leaves the address bar, works
// once, and garbage in _vt_x is ignored.
func TestHandoffBetweenSites(t *testing.T) {
	c, shopURL, payURL := handoffSites(t)
	browser := newBrowser(t)
	open(t, browser, shopURL+"/")
	shopper := connected(t, browser)
	signInAs(t, browser, "ann@example.com")

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
	if there.VisitorID == shopper.VisitorID || there.State != "anonymous" || there.Verified || there.IdentityID != nil {
		t.Fatalf("on the payment site: %+v, want a visitor of its own, anonymous", there)
	}
	if got := arrivedFrom(c, there.VisitID); len(got) != 1 || got[0] != shopper.VisitorID {
		t.Fatalf("the payment visit's HandoffArrived: %v, want from %s", got, shopper.VisitorID)
	}
	var href string
	eval(t, browser, `location.href`, &href)
	if strings.Contains(href, "_vt_x") || !strings.Contains(href, "order=7") {
		t.Fatalf("address after the handoff: %s", href)
	}

	// The decorated URL, once in a fresh browser: recorded, nothing more.
	other := newBrowser(t)
	open(t, other, decorated)
	got := connected(t, other)
	if got.VisitorID == shopper.VisitorID || got.Verified || got.IdentityID != nil {
		t.Fatalf("fresh browser with the token: %+v", got)
	}
	// The same token again: ignored.
	third := newBrowser(t)
	open(t, third, decorated)
	if got := connected(t, third); got.VisitorID == shopper.VisitorID || got.Verified || got.IdentityID != nil || len(arrivedFrom(c, got.VisitID)) != 0 {
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

// TestHandoffFixation is the attack across two hosts: an attacker on the
// shop writes a browser-writable namespace (his IBAN to pay to), signs in
// as himself, and makes a link to the payment site; the victim opens it
// and signs in there with a real proof. Nothing of the attacker (his
// visitor, visits, namespace) reaches her identity, and nothing of hers
// (her visits) reaches his.
func TestHandoffFixation(t *testing.T) {
	const iban = "DE89370400440532013000"
	c, shopURL, payURL := handoffSites(t, "--browser-writable", "prefs")

	attacker := newBrowser(t)
	open(t, attacker, shopURL+"/")
	mallory := connected(t, attacker)
	var ok bool
	eval(t, attacker, `visitrack.visitorData.update('prefs', {payTo: '`+iban+`'}).then(() => true)`, &ok)
	if !ok {
		t.Fatal("the attacker's update of prefs failed")
	}
	malloryID := signInAs(t, attacker, "mallory@example.com")
	var link string
	eval(t, attacker, `new Promise(r => _gt.push(['decorate', '`+payURL+`/pay.html?order=1', r]))`, &link)

	victim := newBrowser(t)
	open(t, victim, link)
	her := connected(t, victim)
	if her.VisitorID == mallory.VisitorID || her.Verified {
		t.Fatalf("the victim's browser after the link: %+v", her)
	}
	herID := signInAs(t, victim, "victim@example.com")
	if herID == malloryID {
		t.Fatalf("her proven SignIn: identity %q (the attacker's is %s)", herID, malloryID)
	}
	var data string
	eval(t, victim, `visitrack.visitorData.get().then(d => JSON.stringify(d))`, &data)
	if status, b := c.get("/v1/identities/" + herID + "/visitor-data"); status != 200 || strings.Contains(string(b), iban) || strings.Contains(data, iban) {
		t.Fatalf("her visitor data: %d %s, in her page %s: the attacker's namespace reached her", status, b, data)
	}
	visitorsOf := func(identityID string) map[string]bool {
		var l struct{ Items []collector.Visit }
		c.getJSON("/v1/identities/"+identityID+"/visits", &l)
		m := map[string]bool{}
		for _, v := range l.Items {
			m[v.VisitorID] = true
		}
		return m
	}
	if v := visitorsOf(herID); v[mallory.VisitorID] || !v[her.VisitorID] {
		t.Fatalf("visitors of her identity: %v, want hers (%s) and not the attacker's (%s)", v, her.VisitorID, mallory.VisitorID)
	}
	if v := visitorsOf(malloryID); v[her.VisitorID] {
		t.Fatalf("her visitor %s is in the attacker's history: %v", her.VisitorID, v)
	}
}
