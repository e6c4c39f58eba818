package visitordata

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

func code(err error) string {
	var v *protocol.ValidationError
	if errors.As(err, &v) {
		return v.Code
	}
	return ""
}

func TestParseCanonical(t *testing.T) {
	d, err := Parse([]byte(` { "b_ns" : {"z":1, "a":[1, 2.50, "x<y>&"]}, "a_ns": {"k": {"n": null}} } `))
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a_ns":{"k":{"n":null}},"b_ns":{"a":[1,2.50,"x<y>&"],"z":1}}`
	if string(got) != want {
		t.Fatalf("Encode = %s, want %s", got, want)
	}
	if len(got) != encodedSize(d) {
		t.Fatalf("encodedSize = %d, len = %d", encodedSize(d), len(got))
	}
	again, err := Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := again.Encode(); !bytes.Equal(b, got) {
		t.Fatalf("not idempotent: %s", b)
	}
	if e, _ := (Document{}).Encode(); string(e) != Empty {
		t.Fatalf("empty document encodes as %s", e)
	}
}

func TestParseRefuses(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17)
	many := "{"
	for i := range MaxNamespaces + 1 {
		if i > 0 {
			many += ","
		}
		many += fmt.Sprintf(`"ns%d":{}`, i)
	}
	many += "}"
	big := `{"a":{"s":"` + strings.Repeat("x", MaxBytes) + `"}}`
	justOver := `{"a":{"s":"` + strings.Repeat("x", MaxBytes-len(`{"a":{"s":""}}`)+1) + `"}}`
	cases := []struct {
		name, in, code, msg string
	}{
		{"empty", ``, CodeInvalid, "empty"},
		{"syntax", `{"a":`, CodeInvalid, "not valid JSON"},
		{"trailing", `{"a":{}} {}`, CodeInvalid, "after the value"},
		{"array", `[1]`, CodeInvalid, "must be a JSON object of namespaces, not an array"},
		{"string", `"x"`, CodeInvalid, "not a string"},
		{"null", `null`, CodeInvalid, "not null"},
		{"bad name upper", `{"CRM":{}}`, CodeInvalid, "must match"},
		{"bad name digit", `{"1crm":{}}`, CodeInvalid, "must match"},
		{"bad name empty", `{"":{}}`, CodeInvalid, "must match"},
		{"bad name long", `{"` + strings.Repeat("a", 65) + `":{}}`, CodeInvalid, "must match"},
		{"value not object", `{"crm":[1]}`, CodeInvalid, `namespace "crm" must be a JSON object, not an array`},
		{"value null", `{"crm":null}`, CodeInvalid, "not null"},
		{"too many", many, CodeInvalid, "33 namespaces"},
		{"too deep", deep, CodeInvalid, "deeper than 16"},
		{"too big input", big, CodeTooLarge, "at most 65536"},
		{"too big canonical", justOver, CodeTooLarge, "at most 65536"},
		{"bad utf8", "{\"a\":{\"s\":\"\xff\"}}", CodeInvalid, "UTF-8"},
		{"infinite number", `{"a":{"n":1e999999}}`, CodeInvalid, "not a finite"},
		{"huge integer", `{"a":{"l":[` + strings.Repeat("9", 400) + `]}}`, CodeInvalid, "not a finite"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.in))
			if err == nil {
				t.Fatalf("Parse(%.60q) succeeded", c.in)
			}
			if code(err) != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("Parse(%.60q) = %v; want code %s and %q", c.in, err, c.code, c.msg)
			}
		})
	}
	// At the limits exactly: accepted.
	atDepth := `{"a":` + strings.Repeat(`{"a":`, 14) + "1" + strings.Repeat("}", 15)
	if _, err := Parse([]byte(atDepth)); err != nil {
		t.Fatalf("depth 16: %v", err)
	}
	if _, err := Parse([]byte(`{"a":{"max":1.7976931348623157e308,"tiny":4e-324,"big":123456789012345678901234567890}}`)); err != nil {
		t.Fatalf("finite numbers refused: %v", err)
	}
	atSize := `{"a":{"s":"` + strings.Repeat("x", MaxBytes-len(`{"a":{"s":""}}`)) + `"}}`
	if _, err := Parse([]byte(atSize)); err != nil {
		t.Fatalf("64 KiB exactly: %v", err)
	}
}

func TestMergePatch(t *testing.T) {
	cur := []byte(`{"campaigns":["forex","cash_mgmt"],"segment":"corporate","x":{"y":1,"z":2}}`)
	got, err := MergePatch(cur, []byte(`{"campaigns":["forex"],"follow_up_meetings":["cash_mgmt"],"x":{"y":null},"segment":null}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"campaigns":["forex"],"follow_up_meetings":["cash_mgmt"],"x":{"z":2}}`
	if string(got) != want {
		t.Fatalf("MergePatch = %s, want %s", got, want)
	}
	// A missing namespace starts as {}; nulls in the patch leave nothing.
	got, err = MergePatch(nil, []byte(`{"a":{"b":null,"c":1},"d":null}`))
	if err != nil || string(got) != `{"a":{"c":1}}` {
		t.Fatalf("MergePatch(nil) = %s, %v", got, err)
	}
	for _, bad := range []string{`[1]`, `null`, `"s"`, `1`, `{"a":`, ``, "{\"a\":\"\xfe\"}"} {
		if _, err := MergePatch(cur, []byte(bad)); code(err) != CodeInvalid {
			t.Errorf("MergePatch(%q) = %v, want %s", bad, err, CodeInvalid)
		}
	}
	if _, err := MergePatch(cur, []byte(`{"s":"`+strings.Repeat("x", MaxBytes)+`"}`)); code(err) != CodeTooLarge {
		t.Errorf("oversize patch: %v", err)
	}
}

func TestPatchNamespaceLimits(t *testing.T) {
	d, err := Parse([]byte(`{"a":{"s":"` + strings.Repeat("x", MaxBytes-100) + `"}}`))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := d.PatchNamespace("b", []byte(`{"s":"`+strings.Repeat("y", 200)+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nd.Encode(); code(err) != CodeTooLarge {
		t.Fatalf("Encode past 64 KiB = %v, want too_large", err)
	}
	if _, ok := d["b"]; ok {
		t.Fatal("PatchNamespace changed its receiver")
	}
	if _, err := d.PatchNamespace("Bad", []byte(`{}`)); code(err) != CodeInvalid {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := d.PutNamespace("b", []byte(`[]`)); code(err) != CodeInvalid {
		t.Fatalf("PutNamespace array: %v", err)
	}
}

func TestChanged(t *testing.T) {
	a, _ := Parse([]byte(`{"crm":{"a":1,"b":2},"sig":{"w":true},"old":{}}`))
	b, _ := Parse([]byte(`{"crm":{"b":2,"a":1},"sig":{"w":false},"new":{}}`))
	got := strings.Join(Changed(a, b), ",")
	if got != "new,old,sig" {
		t.Fatalf("Changed = %s", got)
	}
}

func TestStitch(t *testing.T) {
	id, _ := Parse([]byte(`{"crm":{"who":"identity"}}`))
	vis, _ := Parse([]byte(`{"crm":{"who":"visitor"},"campaign":{"c":1}}`))
	m, dropped := Stitch(id, vis)
	b, _ := m.Encode()
	if string(b) != `{"campaign":{"c":1},"crm":{"who":"identity"}}` || dropped != nil {
		t.Fatalf("Stitch = %s, dropped %v", b, dropped)
	}
	if len(id) != 1 {
		t.Fatal("Stitch changed the identity's document")
	}
	// Past the limits: what does not fit stays behind, the rest is copied.
	full := Document{}
	for i := range MaxNamespaces {
		full[fmt.Sprintf("n%02d", i)] = []byte(`{}`)
	}
	m, dropped = Stitch(full, vis)
	if len(m) != MaxNamespaces || strings.Join(dropped, ",") != "campaign,crm" {
		t.Fatalf("Stitch into a full document: %d namespaces, dropped %v", len(m), dropped)
	}
	huge, _ := Parse([]byte(`{"a":{"s":"` + strings.Repeat("x", MaxBytes-40) + `"}}`))
	small, _ := Parse([]byte(`{"b":{"s":"yy"},"c":{"s":"` + strings.Repeat("z", 100) + `"}}`))
	m, dropped = Stitch(huge, small)
	enc, err := m.Encode()
	if err != nil || strings.Join(dropped, ",") != "c" || len(enc) > MaxBytes {
		t.Fatalf("Stitch near 64 KiB: err %v, dropped %v, %d bytes", err, dropped, len(enc))
	}
}
