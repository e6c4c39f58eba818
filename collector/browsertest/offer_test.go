//go:build browser

package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
)

// TestOfferEndToEnd joins both halves of engagement (docs/engagement.md):
// a category and a rule made through the REST API, a real page of that
// category in Chromium whose tracker subscribes to offers, the collector's
// engine that offers on the page entered, and the visitor's answer, which
// comes back as EngagementAccepted in the visit's history.
func TestOfferEndToEnd(t *testing.T) {
	var c *collectorProc
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/products/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>A product</title>
<script>
  window._gt = window._gt || [];
  window.offers = [];
  _gt.push(['config', {collector: '`+c.URL()+`'}]);
  _gt.push(['subscribe', 'offer', o => window.offers.push(o)]);
</script>
<script async src="`+c.URL()+`/gt.js"></script>
</head><body>A product</body></html>`)
	}))
	t.Cleanup(srv.Close)
	site := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--allowed-origins", site)

	post := func(path string, body any) map[string]any {
		t.Helper()
		status, b := collectortest.Request(t, c.URL(), c.AdminToken, "POST", path, body)
		if status != http.StatusCreated && status != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, status, b)
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		return out
	}
	post("/v1/engagement/categories", map[string]any{"name": "products", "tags": []any{map[string]any{"url": map[string]any{"prefix": "/products"}}}})
	rule := post("/v1/engagement/rules", map[string]any{"name": "chat on a product page",
		"when": []any{map[string]any{"page": map[string]any{"category": "products"}}},
		"then": map[string]any{"offer": map[string]any{"channel": "chat", "data": map[string]any{"text": "Need help?"}, "ttl": "1m"}}})

	tab := newBrowser(t)
	open(t, tab, site+"/products/1")
	id := connected(t, tab)
	var offer struct {
		OfferID, RuleID, Channel string
		Data                     map[string]any
	}
	waitFor(t, "the offer in the page", func() bool {
		var raw string
		eval(t, tab, `JSON.stringify(window.offers[0] || null)`, &raw)
		return json.Unmarshal([]byte(raw), &offer) == nil && offer.OfferID != ""
	})
	if offer.RuleID != rule["id"] && offer.RuleID != rule["ruleId"] || offer.Channel != "chat" || offer.Data["text"] != "Need help?" {
		t.Fatalf("the page's offer %+v, want the rule's (%v)", offer, rule)
	}
	var answered bool
	eval(t, tab, `visitrack.offers.answer('`+offer.OfferID+`', 'accepted').then(() => true)`, &answered)
	waitFor(t, "EngagementAccepted in the visit's history", func() bool {
		return count(c.events(id.VisitID), "EngagementAccepted") == 1 && count(c.events(id.VisitID), "EngagementOffered") == 1
	})
}
