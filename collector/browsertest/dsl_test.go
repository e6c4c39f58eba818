//go:build browser

package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
)

// TestGWEDSL: a page whose config names a GWE domain-model.xml
// (dslResource, the loader's testdata file, served by the site) sends the
// business events the DSL defines: a click on the product's add-to-cart
// image is an AddToCart event with the product's name and SKU from the
// DSL's vals, stored by the collector. The DSL reader (gt-dsl.<hash>.js,
// loaded with its integrity checked) is downloaded by that page only: a
// page without dslResource never asks for it.
func TestGWEDSL(t *testing.T) {
	dsl, err := os.ReadFile("../../web/loader/testdata/domain-model.xml")
	if err != nil {
		t.Fatal(err)
	}
	var c *collectorProc
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dsl/domain-model.xml":
			w.Header().Set("Content-Type", "application/xml")
			w.Write(dsl)
		case "/product":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>DSL shop</title>
<script>
  window._gt = window._gt || [];
  _gt.push(['config', {collector: '`+c.URL()+`', dslResource: '/dsl/domain-model.xml'}]);
</script>
<script async src="`+c.URL()+`/gt.js"></script>
</head><body>
<div class="hproduct"><h3 class="name"><a href="#">Red shoe</a></h3><span class="sku">SKU-1</span>
<img class="bdt-addToCart" alt="add" width="20" height="20" src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></div>
</body></html>`)
		case "/plain":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, `<!doctype html><html><head><title>Plain shop</title>
<script>
  window._gt = window._gt || [];
  _gt.push(['config', {collector: '`+c.URL()+`'}]);
</script>
<script async src="`+c.URL()+`/gt.js"></script>
</head><body><p>No DSL here.</p></body></html>`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	site := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--allowed-origins", site)
	tab := newBrowser(t)
	// The resources a page fetched whose name is the DSL reader's, and the
	// scripts it added for it (there at once, before any download).
	const readerLoads = `performance.getEntriesByType('resource').filter((e) => /\/gt-dsl\.[0-9a-f]{12}\.js$/.test(e.name)).length +
		document.querySelectorAll('script[src*="gt-dsl"]').length`
	open(t, tab, site+"/plain")
	waitPage(t, tab, "the tracker", `!!(window._gt && window._gt.tracker)`)
	var loads int
	eval(t, tab, readerLoads, &loads)
	if loads != 0 {
		t.Fatalf("a page without dslResource fetched the DSL reader %d times", loads)
	}
	open(t, tab, site+"/product")
	waitPage(t, tab, "the tracker", `!!(window._gt && window._gt.tracker)`)
	// The DSL is fetched and installed after the tracker starts: click
	// until the event is stored (each click is one AddToCart).
	var found, clicked bool
	waitFor(t, "the AddToCart event in the history", func() bool {
		eval(t, tab, `(document.querySelector('img.bdt-addToCart').click(), true)`, &clicked)
		status, body := collectortest.Request(t, c.URL(), c.AdminToken, "GET", "/v1/events?name=AddToCart", nil)
		var page struct {
			Items []struct {
				Data map[string]any `json:"data"`
			} `json:"items"`
		}
		if status != http.StatusOK || json.Unmarshal(body, &page) != nil {
			return false
		}
		for _, e := range page.Items {
			if e.Data["productName"] == "Red shoe" && e.Data["productSKU"] == "SKU-1" {
				found = true
			}
		}
		return found
	})
	eval(t, tab, readerLoads, &loads)
	if loads != 2 {
		t.Errorf("the page with dslResource fetched and added the DSL reader %d times, want 1 and 1", loads)
	}
}
