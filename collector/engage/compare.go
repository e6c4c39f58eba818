package engage

import (
	"encoding/json"
	"reflect"
	"strings"
)

// Comparisons are conditions on a JSON document, by JSON pointer
// (RFC 6901): {"/qty": {"gte": 2}, "/crm/segment": {"eq": "corporate"}}.
// All must hold.
type Comparisons map[string]Comparison

// Comparison tests the value at a pointer; every field given must hold.
type Comparison struct {
	Eq       any      `json:"eq,omitempty"`
	Ne       any      `json:"ne,omitempty"`
	Gt       *float64 `json:"gt,omitempty"`
	Gte      *float64 `json:"gte,omitempty"`
	Lt       *float64 `json:"lt,omitempty"`
	Lte      *float64 `json:"lte,omitempty"`
	Exists   *bool    `json:"exists,omitempty"`
	Contains string   `json:"contains,omitempty"`

	hasEq, hasNe bool // eq or ne given, null included
}

const maxComparisons = 32

func comparisons(raw json.RawMessage, p string) (Comparisons, error) {
	o, err := object(raw, p)
	if err != nil {
		return nil, err
	}
	if len(o) == 0 || len(o) > maxComparisons {
		return nil, invalid(p, "give 1 to 32 JSON pointers")
	}
	cs := Comparisons{}
	for ptr, raw := range o {
		cp := p + "/" + escape(ptr)
		if !strings.HasPrefix(ptr, "/") {
			return nil, invalid(cp, `want a JSON pointer such as "/qty"`)
		}
		co, err := object(raw, cp, "eq", "ne", "gt", "gte", "lt", "lte", "exists", "contains")
		if err != nil {
			return nil, err
		}
		if len(co) == 0 {
			return nil, invalid(cp, "give a comparison: eq, ne, gt, gte, lt, lte, exists or contains")
		}
		var c Comparison
		for k, raw := range co {
			kp := cp + "/" + k
			switch k {
			case "eq", "ne":
				var v any
				if err := json.Unmarshal(raw, &v); err != nil {
					return nil, invalid(kp, "want a JSON value")
				}
				if k == "eq" {
					c.Eq, c.hasEq = v, true
				} else {
					c.Ne, c.hasNe = v, true
				}
			case "gt", "gte", "lt", "lte":
				var f float64
				if err := json.Unmarshal(raw, &f); err != nil {
					return nil, invalid(kp, "want a number")
				}
				switch k {
				case "gt":
					c.Gt = &f
				case "gte":
					c.Gte = &f
				case "lt":
					c.Lt = &f
				case "lte":
					c.Lte = &f
				}
			case "exists":
				b, err := boolean(raw, kp)
				if err != nil {
					return nil, err
				}
				c.Exists = &b
			case "contains":
				if c.Contains, err = str(raw, kp); err != nil {
					return nil, err
				}
			}
		}
		cs[ptr] = c
	}
	return cs, nil
}

// Match reports whether doc (decoded JSON: maps, slices, float64, …)
// satisfies every comparison.
func (cs Comparisons) Match(doc any) bool {
	for ptr, c := range cs {
		v, ok := lookup(doc, ptr)
		if !c.match(v, ok) {
			return false
		}
	}
	return true
}

func (c *Comparison) match(v any, ok bool) bool {
	if c.Exists != nil && *c.Exists != ok {
		return false
	}
	if c.hasEq && (!ok || !reflect.DeepEqual(v, c.Eq)) {
		return false
	}
	if c.hasNe && ok && reflect.DeepEqual(v, c.Ne) {
		return false
	}
	if c.Gt != nil || c.Gte != nil || c.Lt != nil || c.Lte != nil {
		f, isNum := v.(float64)
		if !ok || !isNum {
			return false
		}
		if c.Gt != nil && !(f > *c.Gt) || c.Gte != nil && !(f >= *c.Gte) ||
			c.Lt != nil && !(f < *c.Lt) || c.Lte != nil && !(f <= *c.Lte) {
			return false
		}
	}
	if c.Contains != "" {
		s, isStr := v.(string)
		if !ok || !isStr || !strings.Contains(s, c.Contains) {
			return false
		}
	}
	return true
}

// lookup resolves a JSON pointer in doc.
func lookup(doc any, ptr string) (any, bool) {
	if ptr == "" {
		return doc, true
	}
	cur := doc
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch n := cur.(type) {
		case map[string]any:
			v, ok := n[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i := 0
			for _, ch := range tok {
				if ch < '0' || ch > '9' {
					return nil, false
				}
				i = i*10 + int(ch-'0')
				if i > len(n) {
					return nil, false
				}
			}
			if tok == "" || i >= len(n) {
				return nil, false
			}
			cur = n[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
