//go:build browser

package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
)

// genesysPage is a page of a site that moved from Genesys Web Engagement
// without touching its markup: only Genesys's config keys and Genesys's
// 8.1 and 8.5 command forms, the loader's URL aside.
func genesysPage(collectorURL, userHash string) string {
	return `<!doctype html><html><head><title>GWE shop</title>
<script>
  window._gt = window._gt || [];
  _gt.push(['config', {
    httpEndpoint: '` + collectorURL + `',
    httpsEndpoint: 'https://unused.invalid',
    disableWebSockets: true,
    languageCode: 'fr-CA',
    dslResource: '/gwe/dsl/domain-model.xml',
    debug: true
  }]);
  // 8.1: top-level identity commands, business events as one object.
  _gt.push(['sendSignIn', {userId: 'ann@example.com', userHash: '` + userHash + `', plan: 'gold'}]);
  _gt.push(['event', {eventName: 'AddToCart', sku: 'A1', qty: 2}]);
  // Refused: a business event may not take a system event's name.
  _gt.push(['event', {eventName: 'SignOut'}]);
  // 8.5: getIDs with a callback.
  _gt.push(['getIDs', function (ids) { window.gweIDs = ids; }]);
</script>
<script async src="` + collectorURL + `/gt.js"></script>
</head><body><h1>Shop</h1></body></html>`
}

// TestGenesys: the page above runs against a real collector, and the
// History API shows what it did: SignIn verified, the AddToCart event with
// its data, the visit's language, over HTTP; getIDs answers with Genesys's
// names too.
func TestGenesys(t *testing.T) {
	var c *collectorProc
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, genesysPage(c.URL(), identity.UserHash(secret, "ann@example.com")))
	}))
	t.Cleanup(srv.Close)
	site := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--identity-secret", secret, "--allowed-origins", site)
	tab := newBrowser(t)
	open(t, tab, site+"/product")
	waitPage(t, tab, "delivery over HTTP", `visitrack.stats().then(s => s.transport === 'http' && s.queued === 0)`)
	waitPage(t, tab, "the getIDs callback", `!!window.gweIDs`)

	var got struct {
		ids
		VisitIDG      string `json:"visitID"`
		PageIDG       string `json:"pageID"`
		GlobalVisitID string `json:"globalVisitID"`
	}
	eval(t, tab, `window.gweIDs`, &got)
	if got.VisitID == "" || got.VisitIDG != got.VisitID || got.PageIDG != got.PageID || got.GlobalVisitID != got.VisitorID {
		t.Fatalf("getIDs %+v: Genesys's names must repeat visitId, pageId and visitorId", got)
	}
	evs := c.waitEvents(got.VisitID, "the Genesys page's events", func(evs []collector.Event) bool {
		return count(evs, "SignIn") == 1 && count(evs, "AddToCart") == 1
	})
	if names(evs) != "VisitStarted,PageEntered,SignIn,AddToCart" {
		t.Fatalf("events %s: the refused SignOut business event must not be sent", names(evs))
	}
	var started struct {
		Language string `json:"language"`
	}
	if err := json.Unmarshal(evs[0].Data, &started); err != nil || started.Language != "fr-CA" {
		t.Fatalf("VisitStarted data %s: want language fr-CA (languageCode)", evs[0].Data)
	}
	var cart map[string]any
	if err := json.Unmarshal(evs[3].Data, &cart); err != nil || cart["sku"] != "A1" || cart["qty"] != 2.0 || cart["eventName"] != nil {
		t.Fatalf("AddToCart data %s", evs[3].Data)
	}
	if v := c.visit(got.VisitID); v.State != "authenticated" || !v.Verified || v.IdentityID == nil {
		t.Fatalf("visit %+v: sendSignIn with a valid userHash must verify", v)
	}
	var now ids
	eval(t, tab, `visitrack.ids()`, &now)
	if now.State != "authenticated" || !now.Verified {
		t.Fatalf("ids after sendSignIn %+v", now)
	}
}
