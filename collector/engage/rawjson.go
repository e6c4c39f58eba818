package engage

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// An event's data is compared where it lies, in its JSON text: a rule's
// pointer is resolved by one pass over the text, skipping what it does
// not name, and only the value found is read. Decoding every event's data
// into maps cost the engine most of its time (docs/engagement.md, "Cost").
// The answers are those of the decoded document: a key given twice counts
// as its last value, escaped keys and strings are compared unescaped.

// MatchJSON reports whether the JSON text doc satisfies every comparison,
// as Match does on doc decoded.
func (cs Comparisons) MatchJSON(doc string) bool {
	for ptr, c := range cs {
		t, ok := rawLookup(doc, ptr)
		if !c.matchValue(&value{text: t, ok: ok}) {
			return false
		}
	}
	return true
}

// eventData is one event's data as the rules meet it: the value at each
// of the rules' pointers (index.ptrs) is looked up, and a number parsed,
// once per event however many rules ask for it ("/qty"). The engine
// reuses it from event to event: a generation marks the values found for
// the current one.
type eventData struct {
	doc  string
	ptrs []string
	vals []value
	gen  uint32
}

// value is the text at a pointer, and whether there is one.
type value struct {
	text string
	ok   bool
	num  int8 // 0: not parsed yet, 1: f is the number, -1: not a number
	f    float64
	gen  uint32
}

func (d *eventData) reset(ptrs []string, doc string) {
	d.doc, d.ptrs = doc, ptrs
	if len(d.vals) < len(ptrs) {
		d.vals, d.gen = make([]value, len(ptrs)), 0
	}
	if d.gen++; d.gen == 0 {
		clear(d.vals)
		d.gen = 1
	}
}

// value is the value at the pointer ptrs[i] in the current event's data.
// It and number are small enough to be inlined: every rule comparing the
// data calls them, and all but the first find the value read already.
func (d *eventData) value(i int) *value {
	x := &d.vals[i]
	if x.gen != d.gen {
		d.lookup(x, i)
	}
	return x
}

func (d *eventData) lookup(x *value, i int) {
	t, ok := rawLookup(d.doc, d.ptrs[i])
	*x = value{text: t, ok: ok, gen: d.gen}
}

// number decodes x if it is a JSON number, once.
func (x *value) number() (float64, bool) {
	if x.num == 0 {
		x.parse()
	}
	return x.f, x.num > 0
}

func (x *value) parse() {
	x.num = -1
	if f, ok := rawNumber(x.text); ok {
		x.f, x.num = f, 1
	}
}

// equal tells whether x decodes to want.
func (x *value) equal(want any) bool {
	if w, ok := want.(float64); ok {
		f, isNum := x.number()
		return isNum && f == w
	}
	return rawEqual(x.text, want)
}

func (c *Comparison) matchValue(x *value) bool {
	if c.Exists != nil && *c.Exists != x.ok {
		return false
	}
	if c.hasEq && (!x.ok || !x.equal(c.Eq)) {
		return false
	}
	if c.hasNe && x.ok && x.equal(c.Ne) {
		return false
	}
	if c.Gt != nil || c.Gte != nil || c.Lt != nil || c.Lte != nil {
		f, isNum := x.number()
		if !x.ok || !isNum {
			return false
		}
		if c.Gt != nil && !(f > *c.Gt) || c.Gte != nil && !(f >= *c.Gte) ||
			c.Lt != nil && !(f < *c.Lt) || c.Lte != nil && !(f <= *c.Lte) {
			return false
		}
	}
	if c.Contains != "" {
		s, isStr := rawString(x.text)
		if !x.ok || !isStr || !strings.Contains(s, c.Contains) {
			return false
		}
	}
	return true
}

// rawEqual tells whether the JSON value v decodes to want (as
// reflect.DeepEqual would on the decoded value).
func rawEqual(v string, want any) bool {
	switch w := want.(type) {
	case nil:
		// A number beyond float64 (1e400) decodes to nil too.
		_, isNum := rawNumber(v)
		return v == "null" || v != "" && (v[0] == '-' || v[0] >= '0' && v[0] <= '9') && !isNum
	case bool:
		return v == strconv.FormatBool(w)
	case float64:
		f, ok := rawNumber(v)
		return ok && f == w
	case string:
		s, ok := rawString(v)
		return ok && s == w
	}
	var got any
	if json.Unmarshal([]byte(v), &got) != nil {
		return false
	}
	return reflect.DeepEqual(got, want)
}

// rawNumber decodes v if it is a JSON number.
func rawNumber(v string) (float64, bool) {
	if v == "" || v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	return f, err == nil
}

// rawString decodes v if it is a JSON string; only a string with escapes
// or bytes that are not UTF-8 is copied.
func rawString(v string) (string, bool) {
	if len(v) < 2 || v[0] != '"' {
		return "", false
	}
	if in := v[1 : len(v)-1]; strings.IndexByte(in, '\\') < 0 && utf8.ValidString(in) {
		return in, true
	}
	var s string
	if json.Unmarshal([]byte(v), &s) != nil {
		return "", false
	}
	return s, true
}

// rawLookup resolves the JSON pointer ptr in the JSON text doc: the text
// of the value it names, and whether there is one. Text that is not JSON
// names nothing.
func rawLookup(doc, ptr string) (string, bool) {
	v := skipSpace(doc)
	end := valueEnd(v)
	if end < 0 || skipSpace(v[end:]) != "" {
		return "", false
	}
	v = v[:end]
	if ptr == "" {
		return v, true
	}
	rest := ptr[1:]
	for {
		tok := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			tok, rest = rest[:i], rest[i+1:]
		}
		if strings.IndexByte(tok, '~') >= 0 {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		}
		var ok bool
		if v, ok = child(v, tok); !ok {
			return "", false
		}
		if i < 0 {
			return v, true
		}
	}
}

// child is the member tok of the object v, or its element tok if v is an
// array. v is one whole JSON value.
func child(v, tok string) (string, bool) {
	switch {
	case v[0] == '{':
		found, ok := "", false
		p := skipSpace(v[1:])
		for len(p) > 0 && p[0] == '"' {
			kend := stringEnd(p)
			if kend < 0 {
				return "", false
			}
			key := p[:kend]
			p = skipSpace(p[kend:])
			if len(p) == 0 || p[0] != ':' {
				return "", false
			}
			p = skipSpace(p[1:])
			vend := valueEnd(p)
			if vend < 0 {
				return "", false
			}
			if keyIs(key, tok) {
				// The last of a repeated key is the one decoded.
				found, ok = p[:vend], true
			}
			p = skipSpace(p[vend:])
			if len(p) == 0 || p[0] != ',' {
				break
			}
			p = skipSpace(p[1:])
		}
		return found, ok
	case v[0] == '[':
		if tok == "" {
			return "", false
		}
		n := 0
		for _, ch := range []byte(tok) {
			if ch < '0' || ch > '9' || n > len(v) {
				return "", false
			}
			n = n*10 + int(ch-'0')
		}
		p := skipSpace(v[1:])
		for i := 0; len(p) > 0 && p[0] != ']'; i++ {
			end := valueEnd(p)
			if end < 0 {
				return "", false
			}
			if i == n {
				return p[:end], true
			}
			p = skipSpace(p[end:])
			if len(p) == 0 || p[0] != ',' {
				return "", false
			}
			p = skipSpace(p[1:])
		}
	}
	return "", false
}

// keyIs tells whether the JSON string key (quotes included) decodes to
// tok.
func keyIs(key, tok string) bool {
	in := key[1 : len(key)-1]
	if in == tok {
		// tok, from a rule's JSON, is UTF-8: so is in, which decodes to
		// itself.
		return true
	}
	if strings.IndexByte(in, '\\') < 0 && utf8.ValidString(in) {
		return false
	}
	s, ok := rawString(key)
	return ok && s == tok
}

func skipSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t' || s[0] == '\n' || s[0] == '\r') {
		s = s[1:]
	}
	return s
}

// stringEnd is the length of the JSON string s begins with (s[0] is '"'),
// or -1.
func stringEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// maxDepth bounds the nesting valueEnd follows, as encoding/json does.
const maxDepth = 10000

// valueEnd is the length of the JSON value s begins with, or -1. It
// checks the nesting and strings, enough to find the value's end; the
// event's data was validated when it was ingested.
func valueEnd(s string) int {
	if len(s) == 0 {
		return -1
	}
	switch s[0] {
	case '"':
		return stringEnd(s)
	case '{', '[':
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '{', '[':
				if depth++; depth > maxDepth {
					return -1
				}
			case '}', ']':
				if depth--; depth == 0 {
					return i + 1
				}
			case '"':
				n := stringEnd(s[i:])
				if n < 0 {
					return -1
				}
				i += n - 1
			}
		}
		return -1
	}
	i := 0
	for i < len(s) && (s[i] == '-' || s[i] == '+' || s[i] == '.' || s[i] >= '0' && s[i] <= '9' || s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == 0 {
		return -1
	}
	return i
}
