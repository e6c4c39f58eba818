package visitordata

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/visitrack/visitrack/shared/protocol"
)

// Limits, from package protocol so that the tracker and the collector agree.
const (
	MaxBytes      = protocol.MaxVisitorDataBytes // a stored document, compact
	MaxNamespaces = protocol.MaxNamespaces
	MaxDepth      = protocol.MaxDepth // a document; a namespace value gets one less
)

// Error codes carried by the *protocol.ValidationError values this package
// returns. The collector maps CodeTooLarge to 413 and the others to 400.
const (
	CodeInvalid  = protocol.CodeInvalidVisitorData
	CodeTooLarge = protocol.CodeTooLarge
)

func invalidf(format string, args ...any) error {
	return &protocol.ValidationError{Code: CodeInvalid, Message: fmt.Sprintf(format, args...)}
}

func tooLargef(format string, args ...any) error {
	return &protocol.ValidationError{Code: CodeTooLarge, Message: fmt.Sprintf(format, args...)}
}

// IsTooLarge reports whether err is a size limit (64 KiB) being exceeded.
func IsTooLarge(err error) bool {
	var v *protocol.ValidationError
	return errors.As(err, &v) && v.Code == CodeTooLarge
}

// Document is a parsed visitor-data document: each namespace's name and its
// value as canonical JSON. A nil or empty Document is the empty object.
//
// Values are shared between copies made by Clone; they are never modified
// in place, only replaced.
type Document map[string]json.RawMessage

// Empty is the stored form of a document that holds nothing.
const Empty = "{}"

// Parse validates b as a whole document and returns it with every value in
// canonical form. It refuses, with a *protocol.ValidationError, anything
// that breaks a rule of this package: invalid JSON or UTF-8, a top level
// that is not an object, a bad namespace name, a namespace value that is
// not an object, more than 32 namespaces, nesting deeper than 16, or more
// than 64 KiB in (CodeTooLarge).
func Parse(b []byte) (Document, error) {
	if len(b) > MaxBytes {
		return nil, tooLargef("visitor data is %d bytes; at most %d are allowed", len(b), MaxBytes)
	}
	v, err := decode(b, MaxDepth, "visitor data")
	if err != nil {
		return nil, err
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalidf("visitor data must be a JSON object of namespaces, not %s", kind(v))
	}
	if len(obj) > MaxNamespaces {
		return nil, invalidf("visitor data has %d namespaces; at most %d are allowed", len(obj), MaxNamespaces)
	}
	d := make(Document, len(obj))
	for name, val := range obj {
		if !protocol.ValidNamespace(name) {
			return nil, invalidf("namespace name %q must match ^[a-z][a-z0-9_]{0,63}$", truncate(name))
		}
		if _, ok := val.(map[string]any); !ok {
			return nil, invalidf("namespace %q must be a JSON object, not %s", name, kind(val))
		}
		enc, err := encode(val)
		if err != nil {
			return nil, err
		}
		d[name] = enc
	}
	if _, err := d.Encode(); err != nil {
		return nil, err
	}
	return d, nil
}

// ParseStored reads a document written by Encode. It trusts the rules were
// checked when it was written and only decodes the top level; an empty b is
// the empty document.
func ParseStored(b []byte) (Document, error) {
	d := Document{}
	if len(b) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("visitordata: stored document: %w", err)
	}
	return d, nil
}

// ParseNamespaceValue validates b as the whole value of one namespace (it
// must be a JSON object, at most 15 levels deep) and returns it canonical.
// It does not check the limits of the document the value will go into;
// Encode does.
func ParseNamespaceValue(b []byte) (json.RawMessage, error) {
	return parseObject(b, MaxDepth-1, "a namespace value")
}

// ParseObject validates b as a standalone JSON object under the same rules
// as a document, without namespaces: at most 64 KiB, 16 levels deep. The
// collector keeps internal metadata by this rule.
func ParseObject(b []byte) (json.RawMessage, error) {
	v, err := parseObject(b, MaxDepth, "the object")
	if err != nil {
		return nil, err
	}
	if len(v) > MaxBytes {
		return nil, tooLargef("the object would be %d bytes; at most %d are allowed", len(v), MaxBytes)
	}
	return v, nil
}

func parseObject(b []byte, maxDepth int, what string) (json.RawMessage, error) {
	if len(b) > MaxBytes {
		return nil, tooLargef("%s is %d bytes; at most %d are allowed", what, len(b), MaxBytes)
	}
	v, err := decode(b, maxDepth, what)
	if err != nil {
		return nil, err
	}
	if _, ok := v.(map[string]any); !ok {
		return nil, invalidf("%s must be a JSON object, not %s", what, kind(v))
	}
	return encode(v)
}

// Encode returns the document's canonical bytes: compact, namespaces in
// name order. It fails when the document breaks the namespace count or the
// 64 KiB limit (CodeTooLarge), so that what it returns may be stored.
func (d Document) Encode() ([]byte, error) {
	if len(d) > MaxNamespaces {
		return nil, invalidf("visitor data would have %d namespaces; at most %d are allowed", len(d), MaxNamespaces)
	}
	names := d.Names()
	size := encodedSize(d)
	if size > MaxBytes {
		return nil, tooLargef("visitor data would be %d bytes; at most %d are allowed", size, MaxBytes)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, '{')
	for i, n := range names {
		if i > 0 {
			buf = append(buf, ',')
		}
		// Names match ^[a-z][a-z0-9_]*$: nothing in them needs escaping.
		buf = append(buf, '"')
		buf = append(buf, n...)
		buf = append(buf, '"', ':')
		buf = append(buf, d[n]...)
	}
	return append(buf, '}'), nil
}

// Names returns the namespaces in name order.
func (d Document) Names() []string {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Clone returns a copy that may be changed without changing d.
func (d Document) Clone() Document {
	c := make(Document, len(d)+1)
	for k, v := range d {
		c[k] = v
	}
	return c
}

// Changed returns, in name order, the namespaces that differ between a and
// b: added, removed, or with different content. Both must hold canonical
// values (from Parse, ParseStored of stored bytes, or this package).
func Changed(a, b Document) []string {
	var out []string
	for n, av := range a {
		if bv, ok := b[n]; !ok || !bytes.Equal(av, bv) {
			out = append(out, n)
		}
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// decode parses exactly one JSON value from b with numbers kept as written,
// after checking UTF-8 and nesting (before decoding, so that a hostile text
// costs no deep recursion).
func decode(b []byte, maxDepth int, what string) (any, error) {
	if !utf8.Valid(b) {
		return nil, invalidf("%s is not valid UTF-8", what)
	}
	if protocol.Depth(b, maxDepth) > maxDepth {
		return nil, invalidf("%s nests deeper than %d levels", what, maxDepth)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, invalidf("%s is empty; send a JSON object", what)
		}
		return nil, invalidf("%s is not valid JSON: %s", what, strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalidf("%s is not valid JSON: unexpected data after the value", what)
	}
	if n, ok := nonFinite(v); ok {
		return nil, invalidf("%s holds the number %s, which is not a finite 64-bit float", what, truncate(n))
	}
	return v, nil
}

// nonFinite finds a number in v that does not fit a float64 (1e999999, a
// 400-digit integer): stored as written it would break every reader that
// decodes numbers, and the browser's JSON.parse would see Infinity.
func nonFinite(v any) (string, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil || math.IsInf(f, 0) {
			return string(x), true
		}
	case map[string]any:
		for _, e := range x {
			if n, ok := nonFinite(e); ok {
				return n, true
			}
		}
	case []any:
		for _, e := range x {
			if n, ok := nonFinite(e); ok {
				return n, true
			}
		}
	}
	return "", false
}

// encode writes v canonically: compact, object keys sorted (encoding/json
// sorts map keys), numbers as written, no HTML escaping.
func encode(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, invalidf("cannot encode the value: %v", err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte{'\n'}), nil
}

// Canonical returns b, which must be valid JSON, in this package's
// canonical form.
func Canonical(b []byte) (json.RawMessage, error) {
	v, err := decode(b, MaxDepth, "the value")
	if err != nil {
		return nil, err
	}
	return encode(v)
}

func kind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	}
	return "an object"
}

// truncate keeps error messages short when a hostile name is huge.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
