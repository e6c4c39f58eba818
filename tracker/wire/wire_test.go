package wire

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

func TestQuoteRoundTrips(t *testing.T) {
	for _, s := range []string{"", "plain", `a"b\c`, "line\nbreak\r\t", "\x00\x01\x1f", "ünïcode ✓ 😀", "</script>"} {
		var got string
		if err := json.Unmarshal(Quote(nil, s), &got); err != nil || got != s {
			t.Errorf("Quote(%q) = %s: decodes to %q, %v", s, Quote(nil, s), got, err)
		}
	}
}

func TestTimestampMatchesTimePackage(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []int64{0, 1, 999, 1000, 86399999, 86400000, 951782400000 /* 2000-02-29 */, 1795255200123, -1, -86400001}
	for i := 0; i < 2000; i++ {
		cases = append(cases, r.Int64N(4102444800000)) // up to 2100
	}
	for _, ms := range cases {
		want := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		if got := Timestamp(ms); got != want {
			t.Fatalf("Timestamp(%d) = %s, want %s", ms, got, want)
		}
	}
}

func TestEventDecodesAsProtocolEvent(t *testing.T) {
	e := protocol.Event{EventID: "01ARYZ6S410000000000000000", Name: "PageEntered", Timestamp: "2026-11-21T10:00:00.123Z",
		PageID: "01ARYZ6S410000000000000001", URL: "https://shop.example/?q=\"x\"", Title: "Shop", Referrer: ""}
	var got protocol.Event
	if err := json.Unmarshal([]byte(Event(&e, `{"a":[1,2]}`)), &got); err != nil {
		t.Fatal(err)
	}
	want := e
	want.Data = protocol.RawJSON(`{"a":[1,2]}`)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if ve := protocol.ValidateEvent(&got); ve != nil {
		t.Fatal(ve)
	}
	if err := json.Unmarshal([]byte(Event(&e, "")), &got); err != nil || string(got.Data) != "{}" {
		t.Fatalf("empty data: %s %v", got.Data, err)
	}
}

func TestFramesDecode(t *testing.T) {
	tok := "tok.en"
	var h protocol.Hello
	mustDecode(t, Hello(&protocol.Hello{VisitorID: "V", VisitorKey: "K", VisitID: "W", Recognition: &tok, VisitorDataVersion: 3, URL: "u"}), &h)
	if h.Type != "hello" || h.VisitorID != "V" || h.VisitorKey != "K" || h.VisitID != "W" || h.Recognition == nil || *h.Recognition != tok || h.Tracker != Version || h.VisitorDataVersion != 3 || h.URL != "u" {
		t.Fatalf("hello %+v", h)
	}
	h = protocol.Hello{}
	mustDecode(t, Hello(&protocol.Hello{}), &h)
	if h.Recognition != nil || h.VisitorKey != "" {
		t.Fatalf("empty recognition should be null: %+v", h)
	}

	ev := Event(&protocol.Event{EventID: "E", Name: "N", Timestamp: "T"}, "")
	var f protocol.Events
	mustDecode(t, Events("S", []string{ev, ev}), &f)
	if f.Type != "events" || f.SentAt != "S" || len(f.Events) != 2 || f.Events[1].Name != "N" {
		t.Fatalf("events %+v", f)
	}
	mustDecode(t, Events("S", nil), &f)
	if len(f.Events) != 0 {
		t.Fatalf("empty events %+v", f)
	}

	var c protocol.CollectRequest
	mustDecode(t, Collect("V", "K", "W", "", false, 7, "S", []string{ev}, "", "", "", ""), &c)
	if c.VisitorID != "V" || c.VisitorKey != "K" || c.VisitID != "W" || c.Recognition != nil || c.Recognize != nil || c.VisitorDataVersion != 7 || c.SentAt != "S" || len(c.Events) != 1 ||
		c.Cookies != "" || c.Handoff != "" || c.Consent != "" {
		t.Fatalf("collect %+v", c)
	}
	c = protocol.CollectRequest{}
	mustDecode(t, Collect("V", "", "W", "tok", false, 0, "S", nil, "", "", "", ""), &c)
	if c.Recognition == nil || *c.Recognition != "tok" || c.Recognize == nil || *c.Recognize {
		t.Fatalf("collect with a token that only proves: %+v", c)
	}
	c = protocol.CollectRequest{}
	mustDecode(t, Collect("V", "", "W", "tok", true, 0, "S", nil, "", "", "", ""), &c)
	if c.Recognize != nil {
		t.Fatalf("collect with a token that recognizes sends recognize: %+v", c)
	}
	c = protocol.CollectRequest{}
	mustDecode(t, Collect("V", "", "W", "", true, 0, "S", nil, "auto", "shop.example", "h1.x.y", "granted"), &c)
	if c.Cookies != "auto" || c.CookieDomain != "shop.example" || c.Handoff != "h1.x.y" || c.Consent != protocol.ConsentGranted {
		t.Fatalf("collect with cookies and handoff %+v", c)
	}
	var ho protocol.Handoff
	mustDecode(t, Handoff("r2"), &ho)
	if ho.Type != "handoff" || ho.RequestID != "r2" {
		t.Fatalf("handoff %+v", ho)
	}
	h = protocol.Hello{}
	mustDecode(t, Hello(&protocol.Hello{Handoff: "h1.a.b"}), &h)
	if h.Handoff != "h1.a.b" {
		t.Fatalf("hello with handoff %+v", h)
	}

	var u protocol.VisitorDataUpdate
	mustDecode(t, VisitorDataUpdate("r1", "campaign", `{"completed":true}`), &u)
	if u.Type != "visitorData.update" || u.RequestID != "r1" || u.Namespace != "campaign" || string(u.Value) != `{"completed":true}` {
		t.Fatalf("update %+v", u)
	}
}

func TestAppendInt(t *testing.T) {
	for _, v := range []int64{0, 7, -7, 1234567890123, -9223372036854775807} {
		var got int64
		if err := json.Unmarshal(AppendInt(nil, v), &got); err != nil || got != v {
			t.Errorf("AppendInt(%d) = %s", v, AppendInt(nil, v))
		}
	}
}

func mustDecode(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("%s: %v", s, err)
	}
}
