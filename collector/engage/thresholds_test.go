package engage

import (
	"fmt"
	"slices"
	"testing"
)

// TestThresholdsAsMatchers checks the matchers an event hits, found by
// the sorted thresholds, against each matcher evaluated on its own: lower
// and upper bounds, strict or not, equal bounds, two pointers, and the
// matchers that stay plain (two bounds, two pointers, other comparisons,
// no data).
func TestThresholdsAsMatchers(t *testing.T) {
	var conds []string
	for _, b := range []string{"1", "2", "2", "0.5", "-1", "3"} {
		for _, op := range []string{"gte", "gt", "lte", "lt"} {
			for _, p := range []string{"/n", "/m"} {
				conds = append(conds, fmt.Sprintf(`{"%s": {"%s": %s}}`, p, op, b))
			}
		}
	}
	conds = append(conds, `{"/n": {"gte": 1, "lte": 2}}`, `{"/n": {"eq": 2}}`, `{"/n": {"gte": 1}, "/m": {"lt": 2}}`,
		`{"/n": {"exists": true}}`, `{"/n": {"gt": 1, "gte": 1}}`, `{"/n": {"lt": 2, "lte": 3}}`)
	var rules []*Rule
	for i, c := range append(conds, "") {
		event := `{"name": "E", "data": ` + c + `}`
		if c == "" {
			event = `{"name": "E"}`
		}
		r, err := ParseRule([]byte(`{"name": "r", "when": [{"event": ` + event + `}], "then": {"offer": {"channel": "chat"}}}`))
		if err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		r.ID = fmt.Sprint(i)
		rules = append(rules, r)
	}
	x := newIndex(rules)
	if s := x.scans["E"]; len(s.groups) != 4 || len(s.plain) != 5 {
		t.Fatalf("%d groups of thresholds and %d plain matchers, want 4 and 5", len(s.groups), len(s.plain))
	}
	values := []string{"-2", "-1", "0", "0.5", "1", "1.5", "2", "2.5", "3", "4", "-0", "1e400", `"1"`, "null", "true", "[1]"}
	var d eventData
	for _, n := range append(values, "") {
		for _, m := range append(values, "") {
			doc := "{"
			if n != "" {
				doc += `"n": ` + n
			}
			if m != "" {
				doc += map[bool]string{true: ", ", false: ""}[n != ""] + `"m": ` + m
			}
			doc += "}"
			var want []int32
			d.reset(x.ptrs, doc)
			for _, i := range x.watch["E"] {
				if x.matchers[i].hit(nil, &d) {
					want = append(want, int32(i))
				}
			}
			d.reset(x.ptrs, doc)
			got := x.hits(nil, "E", nil, &d)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: matchers %v, want %v", doc, got, want)
			}
		}
	}
}
