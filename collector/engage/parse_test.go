package engage

import (
	"errors"
	"testing"
	"time"
)

const specRule = `{"name": "chat after three products",
 "when": [{"count": {"atLeast": 3, "within": "10m", "of": {"page": {"category": "products"}}}}],
 "unless": {"offeredWithin": "24h", "maxPerVisitorPerDay": 1},
 "then": {"offer": {"channel": "chat", "data": {"text": "Need help?"}, "ttl": "30s"}},
 "pacing": {"perMinute": 20, "capacityUrl": "https://cc.example/capacity"},
 "goal": "Checkout"}`

func TestParseRuleAcceptsTheDocumentedShape(t *testing.T) {
	r, err := ParseRule([]byte(specRule))
	if err != nil {
		t.Fatal(err)
	}
	c := r.When[0].Count
	if c == nil || c.AtLeast != 3 || time.Duration(c.Within) != 10*time.Minute || c.Of.Page.Category != "products" {
		t.Fatalf("count = %+v", c)
	}
	if time.Duration(r.Unless.OfferedWithin) != 24*time.Hour || r.Unless.MaxPerVisitorPerDay != 1 ||
		r.Then.Offer.Channel != "chat" || time.Duration(r.Then.Offer.TTL) != 30*time.Second ||
		r.Pacing.PerMinute != 20 || r.Goal != "Checkout" {
		t.Fatalf("rule = %+v", r)
	}
	other := `{"name": "n", "when": [
		{"event": {"name": "AddToCart", "data": {"/qty": {"gte": 2}}}},
		{"page": {"category": "checkout"}},
		{"dwell": {"on": "page", "atLeast": "45s"}},
		{"visit": {"state": "authenticated", "verified": true}},
		{"visitorData": {"/crm/segment": {"eq": "corporate"}}}],
		"unless": {"quietHours": {"from": "22:00", "to": "07:00", "tz": "Europe/Paris"}},
		"then": {"offer": {"channel": "chat"}}}`
	if _, err := ParseRule([]byte(other)); err != nil {
		t.Fatal(err)
	}
}

func TestParseRulePointsAtTheFaultyField(t *testing.T) {
	for _, tc := range []struct{ body, pointer string }{
		{`{"name": "n", "when": [{"count": {"atLeast": 3, "within": "ten minutes", "of": {"page": {"category": "p"}}}}], "then": {"offer": {"channel": "chat"}}}`, "/when/0/count/within"},
		{`{"name": "n", "when": [{"page": {"category": "p"}}, {"dwell": {"on": "tab", "atLeast": "5s"}}], "then": {"offer": {"channel": "chat"}}}`, "/when/1/dwell/on"},
		{`{"name": "n", "when": [{"page": {"category": "p"}}], "then": {"offer": {"channel": "Chat!"}}}`, "/then/offer/channel"},
		{`{"name": "n", "when": [{"page": {"category": "p"}}], "then": {"offer": {"channel": "chat"}}, "pacing": {"capacityUrl": "ftp://x"}}`, "/pacing/capacityUrl"},
		{`{"name": "n", "when": [{"event": {"name": "A", "data": {"qty": {"gte": 2}}}}], "then": {"offer": {"channel": "chat"}}}`, "/when/0/event/data/qty"},
		{`{"name": "n", "when": [{"event": {"name": "A", "data": {"/qty": {"gte": "two"}}}}], "then": {"offer": {"channel": "chat"}}}`, "/when/0/event/data/~1qty/gte"},
		{`{"name": "n", "when": [{"visit": {"verified": true}}], "then": {"offer": {"channel": "chat"}}}`, "/when"},
		{`{"name": "n", "when": [{"page": {"category": "p"}}], "then": {"offer": {"channel": "chat"}}, "colour": 1}`, "/colour"},
		{`{"name": "n", "when": [{"page": {"category": "p"}}]}`, "/then"},
		{`{"name": "n", "when": [{"page": {"category": "p"}}], "then": {"offer": {"channel": "chat"}}, "unless": {"quietHours": {"from": "25:00", "to": "07:00"}}}`, "/unless/quietHours/from"},
	} {
		_, err := ParseRule([]byte(tc.body))
		var e *Error
		if !errors.As(err, &e) || e.Pointer != tc.pointer {
			t.Errorf("ParseRule(%s) = %v, want an error at %s", tc.body, err, tc.pointer)
		}
	}
}

func TestCategorizer(t *testing.T) {
	var cats []*Category
	for _, b := range []string{
		`{"name": "products", "tags": [{"url": {"prefix": "/products"}}, {"title": {"contains": "Product"}}]}`,
		`{"name": "home", "tags": [{"url": {"exact": "/"}}]}`,
		`{"name": "reviews", "tags": [{"url": {"glob": "/products/*/reviews"}}]}`,
	} {
		c, err := ParseCategory([]byte(b))
		if err != nil {
			t.Fatal(err)
		}
		cats = append(cats, c)
	}
	k := NewCategorizer(cats)
	for _, tc := range []struct {
		url, title, want string
	}{
		{"https://shop.example/products/42?x=1", "", "products"},
		{"https://shop.example/products/42/reviews#top", "", "products,reviews"},
		{"https://shop.example", "", "home"},
		{"https://shop.example/about", "Our product range", "products"},
		{"https://shop.example/about", "About", ""},
	} {
		got := ""
		for i, n := range k.Match(nil, tc.url, tc.title) {
			if i > 0 {
				got += ","
			}
			got += n
		}
		if got != tc.want {
			t.Errorf("Match(%q, %q) = %q, want %q", tc.url, tc.title, got, tc.want)
		}
	}
	if _, err := ParseCategory([]byte(`{"name": "x", "tags": [{"url": {"glob": "[", "prefix": "/"}}]}`)); err == nil {
		t.Fatal("two URL matches in one tag accepted")
	}
}

func TestComparisons(t *testing.T) {
	cs, err := comparisons([]byte(`{"/qty": {"gte": 2}, "/crm/segment": {"eq": "corporate"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	yes := map[string]any{"qty": 2.0, "crm": map[string]any{"segment": "corporate"}}
	no := map[string]any{"qty": 1.0, "crm": map[string]any{"segment": "corporate"}}
	if !cs.Match(yes) || cs.Match(no) || cs.Match(nil) {
		t.Fatal("comparisons matched wrongly")
	}
}
