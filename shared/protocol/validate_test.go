package protocol

import (
	"strings"
	"testing"
)

func TestIsULID(t *testing.T) {
	for s, want := range map[string]bool{
		"01JD3Z8Q5N0000000000000000":  true,
		"01jd3z8q5n0000000000000000":  true,  // lower case accepted
		"7ZZZZZZZZZZZZZZZZZZZZZZZZZ":  true,  // the largest
		"8ZZZZZZZZZZZZZZZZZZZZZZZZZ":  false, // overflows 128 bits
		"01JD3Z8Q5N000000000000000":   false, // 25
		"01JD3Z8Q5N00000000000000000": false, // 27
		"01JD3Z8Q5N000000000000000I":  false, // I is not Crockford
		"01JD3Z8Q5N000000000000000U":  false,
		"":                            false,
		"' OR 1=1 --               ":  false,
	} {
		if got := IsULID(s); got != want {
			t.Errorf("IsULID(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestUpperULID(t *testing.T) {
	for in, want := range map[string]string{
		"01jd3z8q5n0000000000000000": "01JD3Z8Q5N0000000000000000",
		"01Jd3Z8q5N0000000000000abc": "01JD3Z8Q5N0000000000000ABC",
		"01JD3Z8Q5N0000000000000000": "01JD3Z8Q5N0000000000000000",
		"":                           "",
	} {
		got := UpperULID(in)
		if got != want {
			t.Errorf("UpperULID(%q) = %q, want %q", in, got, want)
		}
		if !IsULID(in) && in != "" {
			t.Errorf("test input %q is not a ULID", in)
		}
	}
	s := "01JD3Z8Q5N0000000000000000"
	if n := testing.AllocsPerRun(100, func() { s = UpperULID(s) }); n != 0 {
		t.Errorf("UpperULID of an upper-case id allocates %v times, want 0", n)
	}
}

func TestValidNamespace(t *testing.T) {
	for s, want := range map[string]bool{
		"crm_integration":             true,
		"a":                           true,
		"a" + strings.Repeat("b", 63): true,
		"a" + strings.Repeat("b", 64): false,
		"":                            false,
		"1abc":                        false,
		"_abc":                        false,
		"Crm":                         false,
		"crm-integration":             false,
		"crm integration":             false,
	} {
		if got := ValidNamespace(s); got != want {
			t.Errorf("ValidNamespace(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDepth(t *testing.T) {
	for s, want := range map[string]int{
		`1`:                0,
		`{}`:               1,
		`{"a":[{"b":[]}]}`: 4,
		`{"a":"{{{{[[[["}`: 1, // brackets in strings do not count
		`{"a":"\"{{{"}`:    1, // nor after an escaped quote
		`[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]`: 17, // stops past the limit
	} {
		if got := Depth([]byte(s), 16); got != want {
			t.Errorf("Depth(%s) = %d, want %d", s, got, want)
		}
	}
}

func TestValidateEvent(t *testing.T) {
	ok := Event{EventID: "01JD3Z8Q5N0000000000000000", Name: "Click", Timestamp: "2026-11-21T10:00:00.123Z", Data: RawJSON(`{}`)}
	if err := ValidateEvent(&ok); err != nil {
		t.Fatalf("valid event refused: %v", err)
	}
	cases := map[string]func(e *Event){
		CodeInvalidID + " eventId":  func(e *Event) { e.EventID = "x" },
		CodeInvalidID + " pageId":   func(e *Event) { e.PageID = "x" },
		CodeInvalidEvent + " name":  func(e *Event) { e.Name = "" },
		CodeInvalidEvent + " long":  func(e *Event) { e.Name = strings.Repeat("n", 129) },
		CodeInvalidEvent + " ended": func(e *Event) { e.Name = EventVisitEnded },
		CodeInvalidEvent + " time":  func(e *Event) { e.Timestamp = "" },
		CodeInvalidEvent + " page":  func(e *Event) { e.Name = EventPageEntered },
		CodeInvalidEvent + " url":   func(e *Event) { e.URL = strings.Repeat("u", 4097) },
		CodeInvalidEvent + " title": func(e *Event) { e.Title = strings.Repeat("t", 1025) },
		CodeInvalidEvent + " data":  func(e *Event) { e.Data = RawJSON(`"text"`) },
	}
	for name, mutate := range cases {
		e := ok
		mutate(&e)
		err := ValidateEvent(&e)
		if err == nil || !strings.HasPrefix(name, err.Code) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}

func TestCategory(t *testing.T) {
	if Category(EventSignIn) != CategorySystem || Category("AddToCart") != CategoryBusiness {
		t.Fatal("categories wrong")
	}
}
