package engage_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// categoryBreakdown asks GET /v1/stats/breakdown?dimension=category over
// the last hour (bots: exclude, include or only) and returns the counts by
// category, in their order.
func categoryBreakdown(t *testing.T, col *collectortest.Collector, bots string) string {
	t.Helper()
	q := url.Values{"dimension": {"category"}, "since": {time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)},
		"until": {time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "bots": {bots}}
	var out struct {
		Dimension string
		Items     []struct {
			Value string
			Count int
		}
	}
	col.Get("/v1/stats/breakdown?"+q.Encode(), &out)
	if out.Dimension != "category" {
		t.Fatalf("dimension = %q", out.Dimension)
	}
	s := ""
	for _, it := range out.Items {
		s += fmt.Sprintf("%s:%d ", it.Value, it.Count)
	}
	return s
}

// Stats break down by category: a page's views count in each category it
// matched when it was stored (by URL or title), a page of none in none.
func TestBreakdownByCategory(t *testing.T) {
	col := collectortest.Start(t)
	for _, c := range []string{
		`{"name": "products", "tags": [{"url": {"prefix": "/products"}}, {"title": {"contains": "Product"}}]}`,
		`{"name": "sale", "tags": [{"url": {"glob": "/products/*-sale"}}]}`,
		`{"name": "checkout", "tags": [{"url": {"exact": "/checkout"}}]}`,
	} {
		if st, b := col.Do("POST", "/v1/engagement/categories", c); st != 201 {
			t.Fatalf("category: %d %s", st, b)
		}
	}
	page := func(path, title string) protocol.Event {
		e := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
		e.URL, e.Title = "https://shop.example"+path, title
		return e
	}
	c := visitOn(t, col)
	ack, _ := frames(t, c, page("/products/1", ""), page("/products/2-sale", ""), page("/about", "Our Product range"),
		page("/checkout", ""), page("/about", "About us"))
	if len(ack.Rejected) > 0 {
		t.Fatalf("rejected: %+v", ack.Rejected)
	}
	if got, want := categoryBreakdown(t, col, "include"), "products:3 checkout:1 sale:1 "; got != want {
		t.Fatalf("breakdown by category = %q, want %q", got, want)
	}
	// The test client is a bot (no browser's User-Agent): its pages count
	// only when bots are included.
	if got := categoryBreakdown(t, col, "exclude"); got != "" {
		t.Fatalf("without bots: %q", got)
	}
	if st, b := col.Do("GET", "/v1/stats/breakdown?dimension=kategory", nil); st != 400 {
		t.Fatalf("unknown dimension: %d %s", st, b)
	}
}
