package visitordata

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzParse: whatever the input, Parse either refuses it with a rule error
// or returns a document that keeps every rule and encodes canonically
// (parsing the encoding gives the same bytes).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"crm_integration":{"campaigns":["forex","cash_mgmt"]}}`,
		`{"a":{"b":[1,2.50,-3e2,"\u00e9<>&"]}}`, `[]`, `{"A":{}}`, `{"a":null}`,
		`{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":{"a":1}}}}}}}}}}}}}}}}`,
		"{\"a\":{\"s\":\"\u2028\"}}", `{"a":{},"a":{"x":1}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Parse(in)
		if err != nil {
			if code(err) == "" {
				t.Fatalf("Parse error without a rule code: %v", err)
			}
			return
		}
		enc, err := d.Encode()
		if err != nil {
			t.Fatalf("parsed document does not encode: %v", err)
		}
		if len(enc) > MaxBytes || len(d) > MaxNamespaces || !json.Valid(enc) {
			t.Fatalf("document breaks a rule: %d bytes, %d namespaces", len(enc), len(d))
		}
		again, err := Parse(enc)
		if err != nil {
			t.Fatalf("canonical form refused: %v (%s)", err, enc)
		}
		enc2, _ := again.Encode()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("not canonical:\n%s\n%s", enc, enc2)
		}
		stored, err := ParseStored(enc)
		if err != nil || len(Changed(stored, d)) != 0 {
			t.Fatalf("ParseStored differs: %v %v", err, Changed(stored, d))
		}
	})
}

// FuzzMergePatch: a patch that is accepted gives a canonical object that
// follows RFC 7396 at its top level (null removes, other values replace or
// merge), and a refused patch is refused with a rule code.
func FuzzMergePatch(f *testing.F) {
	f.Add([]byte(`{"campaigns":["forex","cash_mgmt"],"segment":"corporate"}`), []byte(`{"campaigns":["forex"],"follow_up_meetings":["cash_mgmt"]}`), "crm_integration")
	f.Add([]byte(`{"a":{"b":1}}`), []byte(`{"a":{"b":null,"c":{"d":null}}}`), "ns")
	f.Add([]byte(`{}`), []byte(`null`), "ns")
	f.Add([]byte(`{"x":1}`), []byte(`[1,2]`), "Bad-Name")
	f.Add([]byte(`{"x":1}`), []byte(`{"x":{"y":[{"z":null}]}}`), "a")
	f.Fuzz(func(t *testing.T, cur, patch []byte, ns string) {
		base, err := ParseNamespaceValue(cur)
		if err != nil {
			base = nil // start from a missing namespace
		}
		d := Document{}
		if base != nil {
			d["a"] = base
		}
		nd, err := d.PatchNamespace(ns, patch)
		if err != nil {
			if code(err) == "" {
				t.Fatalf("error without a rule code: %v", err)
			}
			return
		}
		got := nd[ns]
		canon, err := ParseNamespaceValue(got)
		if err != nil || !bytes.Equal(canon, got) {
			t.Fatalf("result not a canonical object: %s (%v)", got, err)
		}
		var p, r map[string]json.RawMessage
		if err := json.Unmarshal(patch, &p); err != nil {
			t.Fatalf("accepted patch is not an object: %v", err)
		}
		if err := json.Unmarshal(got, &r); err != nil {
			t.Fatal(err)
		}
		for k, v := range p {
			rv, ok := r[k]
			switch {
			case string(v) == "null":
				if ok {
					t.Fatalf("key %q set to null is still there: %s", k, got)
				}
			case !ok:
				t.Fatalf("key %q of the patch is missing: %s", k, got)
			case len(bytes.TrimSpace(v)) > 0 && bytes.TrimSpace(v)[0] != '{':
				want, _ := Canonical(v)
				if !bytes.Equal(rv, want) {
					t.Fatalf("key %q = %s, want %s", k, rv, want)
				}
			}
		}
		if ns != "a" && base != nil && !bytes.Equal(nd["a"], base) {
			t.Fatal("patching one namespace changed another")
		}
	})
}
