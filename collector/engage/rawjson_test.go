package engage

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

var rawDocs = []string{
	`{"n": 1, "button": "buy"}`,
	` {"qty":3,"crm":{"segment":"corporate","tags":["a","b/c",{"x":null}]},"ok":true,"no":false} `,
	`{"a/b": 1, "m~n": 2, "~1": 3, "": 4, "e\u0301": "é", "q\"k": "x\\y", "k": 1, "k": "last"}`,
	`{"arr": [10, 20.5, -3e2, [1, [2]], {"y": "}]\"{"}], "s": "a \"quoted\" ]} text", "u": "caf\u00e9"}`,
	`{"big": 1e400, "neg": -0, "exp": 2.5E+3, "nested": {"deep": {"deeper": {"v": "z"}}}}`,
	"{\"bad\": \"\xff\xfe\", \"\xffkey\": 1, \"ok\u00e9\": 2}",
	`[1, 2, {"n": 5}]`,
	`"just a string"`,
	`null`,
	`{}`,
	``,
}

// malformedDocs are not JSON: ingest lets none through, but they must not
// crash the lookup.
var malformedDocs = []string{
	`{"n": 1} trailing`, `{"n": `, `{"unterminated": "abc`, `{"n" 1}`, `{"n": 1,,}`, `[1,`, `{{{{`, `]`, `"\`,
	`{"a": [1, 2}`, `{"k": "\u12"}`,
}

var rawPointers = []string{
	"/n", "/button", "/qty", "/crm/segment", "/crm/tags/1", "/crm/tags/2/x", "/crm/tags/3", "/crm/tags/01",
	"/crm/tags/", "/crm/tags/-", "/ok", "/no", "/a~1b", "/m~0n", "/~01", "/", "/e\u0301", "/q\"k", "/k",
	"/arr/0", "/arr/1", "/arr/2", "/arr/3/1/0", "/arr/4/y", "/arr/5", "/s", "/u", "/big", "/neg", "/exp",
	"/nested/deep/deeper/v", "/nested/deep/missing", "/bad", "/\ufffdkey", "/ok\u00e9", "/0", "/2/n", "/missing", "/n/x",
}

// TestRawLookupAsDecoded resolves pointers on the JSON text and on the
// decoded document: the values must be the same.
func TestRawLookupAsDecoded(t *testing.T) {
	for _, doc := range rawDocs {
		// As the engine decoded it before: errors (1e400) ignored.
		var decoded any
		json.Unmarshal([]byte(doc), &decoded)
		for _, ptr := range rawPointers {
			want, wantOK := lookup(decoded, ptr)
			raw, ok := rawLookup(doc, ptr)
			if ok != wantOK {
				t.Errorf("%s in %q: found %v (%q), decoded found %v", ptr, doc, ok, raw, wantOK)
				continue
			}
			if !ok {
				continue
			}
			var got any
			if err := json.Unmarshal([]byte(raw), &got); err != nil && fmt.Sprint(want) != "<nil>" {
				t.Errorf("%s in %q: %q is not JSON: %v", ptr, doc, raw, err)
				continue
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
				t.Errorf("%s in %q: %#v, decoded %#v", ptr, doc, got, want)
			}
		}
	}
}

// TestMatchJSONAsDecoded compares every kind of comparison on the JSON
// text and on the decoded document.
func TestMatchJSONAsDecoded(t *testing.T) {
	comps := []string{
		`{"eq": 1}`, `{"eq": 1.0}`, `{"eq": "buy"}`, `{"eq": "é"}`, `{"eq": "x\\y"}`, `{"eq": null}`, `{"eq": true}`,
		`{"eq": false}`, `{"eq": [1, [2]]}`, `{"eq": {"x": null}}`, `{"eq": "last"}`, `{"eq": 2500}`, `{"eq": 0}`,
		`{"ne": 1}`, `{"ne": "corporate"}`, `{"ne": null}`, `{"gte": 1}`, `{"gt": 1}`, `{"lt": 20.5}`, `{"lte": -300}`,
		`{"gte": 0, "lt": 100}`, `{"exists": true}`, `{"exists": false}`, `{"contains": "uy"}`, `{"contains": "quoted"}`,
		`{"contains": "\\"}`, `{"contains": "é"}`, `{"contains": "1"}`,
	}
	for _, doc := range rawDocs {
		// As the engine decoded it before: errors (1e400) ignored.
		var decoded any
		json.Unmarshal([]byte(doc), &decoded)
		for _, ptr := range rawPointers {
			for _, comp := range comps {
				body, _ := json.Marshal(map[string]json.RawMessage{ptr: json.RawMessage(comp)})
				cs, err := comparisons(body, "/data")
				if err != nil {
					t.Fatalf("%s %s: %v", ptr, comp, err)
				}
				if got, want := cs.MatchJSON(doc), cs.Match(decoded); got != want {
					t.Errorf("%s %s on %q: %v, decoded %v", ptr, comp, doc, got, want)
				}
			}
		}
	}
}

func TestRawLookupMalformed(t *testing.T) {
	for _, doc := range malformedDocs {
		for _, ptr := range append(rawPointers, "/a/5", "/k") {
			rawLookup(doc, ptr)
		}
	}
}

// TestBoundsAsComparison checks the interval a comparison of gt, gte, lt
// and lte only is compiled to (index.go) against the comparison itself,
// on numbers at, between and beyond its bounds and on what is no number.
func TestBoundsAsComparison(t *testing.T) {
	var comps []string
	bounds := []string{"", `"gt": 1`, `"gte": 1`, `"gt": 1, "gte": 1`, `"gt": 0, "gte": 1`, `"gt": 1, "gte": 0`}
	for _, lo := range bounds {
		for _, hi := range []string{"", `"lt": 2`, `"lte": 2`, `"lt": 2, "lte": 2`, `"lt": 3, "lte": 2`, `"lt": 2, "lte": 3`, `"lte": 1`, `"lt": 1`} {
			if c := strings.Trim(lo+", "+hi, ", "); c != "" {
				comps = append(comps, "{"+c+"}")
			}
		}
	}
	values := []string{"-1", "0", "0.5", "1", "1.5", "2", "2.5", "3", "1e400", "-0", `"1"`, "null", "true", "[1]"}
	for _, comp := range comps {
		body, _ := json.Marshal(map[string]json.RawMessage{"/n": json.RawMessage(comp)})
		cs, err := comparisons(body, "/data")
		if err != nil {
			t.Fatalf("%s: %v", comp, err)
		}
		k := newCmp(0, cs["/n"])
		if !k.bounds {
			t.Fatalf("%s: not compiled to an interval", comp)
		}
		for _, v := range append(values, "") {
			doc := `{"n": ` + v + `}`
			if v == "" {
				doc = `{}`
			}
			var d eventData
			d.reset([]string{"/n"}, doc)
			if got, want := k.match(d.value(0)), cs.MatchJSON(doc); got != want {
				t.Errorf("%s on %s: interval %v, comparison %v", comp, doc, got, want)
			}
		}
	}
}
