package cookie

import "testing"

func TestParse(t *testing.T) {
	m := Parse(" a=1; _vt_vid=01ARYZ6S410000000000000000;b= x%20y ; a=2;;bad; =v; tok=ab%3Bc%25; e=; e=3")
	want := map[string]string{"a": "1", "_vt_vid": "01ARYZ6S410000000000000000", "b": "x y", "tok": "ab;c%", "e": ""}
	if len(m) != len(want) {
		t.Fatalf("got %v, want %v", m, want)
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	if len(Parse("")) != 0 {
		t.Fatal("empty string has cookies")
	}
}

func TestSetAndDelete(t *testing.T) {
	cases := []struct {
		got, want string
	}{
		{Set(Visitor, "01ARYZ6S410000000000000000", VisitorMaxAge, Attrs{}),
			"_vt_vid=01ARYZ6S410000000000000000; Path=/; Max-Age=63072000; SameSite=Lax"},
		{Set(User, "a b;c%d\"", UserMaxAge, Attrs{Secure: true, Domain: "example.com"}),
			"_vt_uid=a%20b%3Bc%25d%22; Path=/; Max-Age=31536000; SameSite=Lax; Secure; Domain=example.com"},
		{Delete(Visit, Attrs{Secure: true}), "_vt_visit=; Path=/; Max-Age=0; SameSite=Lax; Secure"},
	}
	for _, c := range cases {
		if c.got != c.want {
			t.Errorf("got  %s\nwant %s", c.got, c.want)
		}
	}
	// What Set escapes, Parse restores.
	v := "v1.eyJ0eXAiOiJ9.sig-_=+/ ;,\\é"
	set := Set(User, v, 1, Attrs{})
	if got := Parse(set[:indexByte(set, ';')])[User]; got != v {
		t.Fatalf("round trip: %q != %q", got, v)
	}
}

func TestVisitValue(t *testing.T) {
	v := VisitValue("01ARYZ6S410000000000000000", 1795255200)
	if v != "01ARYZ6S410000000000000000.1795255200" {
		t.Fatal(v)
	}
	id, last, ok := ParseVisit(v)
	if !ok || id != "01ARYZ6S410000000000000000" || last != 1795255200 {
		t.Fatalf("ParseVisit = %q %d %v", id, last, ok)
	}
	for _, bad := range []string{"", ".", "abc", "abc.", ".123", "abc.12x", "abc.123456789012345678901"} {
		if _, _, ok := ParseVisit(bad); ok {
			t.Errorf("ParseVisit(%q) ok", bad)
		}
	}
}

func TestContinues(t *testing.T) {
	const timeout = 30 * 60 * 1000
	last := int64(1000000)
	if !Continues(last, last*1000+timeout-1, timeout) {
		t.Error("a visit ended before its timeout")
	}
	if Continues(last, last*1000+timeout, timeout) {
		t.Error("a visit went on past its timeout")
	}
}
