package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/visitrack/visitrack/shared/protocol"
)

const goodEvent = `{"eventId":"01JD3Z8Q5N0000000000000000","name":"AddToCart","timestamp":"2026-11-21T10:00:00.123Z","pageId":"01JD3Z8Q5N0000000000000001","url":"https://shop.example/","data":{"sku":"B-42"}}`

func TestDecodeEvent(t *testing.T) {
	var e decodedEvent
	if rej := decodeEvent(json.RawMessage(goodEvent), &e); rej != nil {
		t.Fatalf("good event rejected: %+v", rej)
	}
	if e.Name != "AddToCart" || e.at != 1795255200123 || string(e.Data) != `{"sku":"B-42"}` {
		t.Fatalf("decoded %+v at %d", e.Event, e.at)
	}
	cases := map[string]struct{ raw, code, id string }{
		"name a number":   {`{"eventId":"01JD3Z8Q5N0000000000000000","name":5}`, protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"not an object":   {`"hello"`, protocol.CodeInvalidEvent, ""},
		"bad timestamp":   {strings.Replace(goodEvent, "2026-11-21T10:00:00.123Z", "21/11/2026", 1), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"lower-case id":   {strings.Replace(goodEvent, "01JD3Z8Q5N0000000000000000", "8zzzzzzzzzzzzzzzzzzzzzzzzz", 1), protocol.CodeInvalidID, "8zzzzzzzzzzzzzzzzzzzzzzzzz"},
		"data an array":   {strings.Replace(goodEvent, `{"sku":"B-42"}`, `[1]`, 1), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"too deep":        {`{"eventId":"01JD3Z8Q5N0000000000000000","data":` + strings.Repeat(`{"a":`, 17) + `1` + strings.Repeat(`}`, 17) + `}`, protocol.CodeTooDeep, "01JD3Z8Q5N0000000000000000"},
		"too large":       {`{"eventId":"01JD3Z8Q5N0000000000000000","data":{"x":"` + strings.Repeat("x", 16<<10) + `"}}`, protocol.CodeTooLarge, "01JD3Z8Q5N0000000000000000"},
		"brace in string": {strings.Replace(goodEvent, `"B-42"`, `"{{{{{{{{{{{{{{{{{{{{"`, 1), "", ""},
		"consent granted": {consentEvent(`{"state":"granted","source":"api"}`), "", ""},
		"consent denied":  {consentEvent(`{"state":"denied","source":"gpc"}`), "", ""},
		"consent maybe":   {consentEvent(`{"state":"maybe"}`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"consent unset":   {consentEvent(`{"state":"unset"}`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"consent case":    {consentEvent(`{"state":"Granted"}`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"consent number":  {consentEvent(`{"state":1}`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"consent null":    {consentEvent(`{"state":null}`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"consent none":    {consentEvent(`{"source":"api"}`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
		"consent no data": {consentEvent(`null`), protocol.CodeInvalidEvent, "01JD3Z8Q5N0000000000000000"},
	}
	for name, tc := range cases {
		rej := decodeEvent(json.RawMessage(tc.raw), &e)
		if tc.code == "" {
			if rej != nil {
				t.Errorf("%s: rejected %+v", name, rej)
			}
			continue
		}
		if rej == nil || rej.Code != tc.code || rej.EventID != tc.id {
			t.Errorf("%s: rejection %+v, want code %s id %q", name, rej, tc.code, tc.id)
		}
	}
}

// consentEvent is a ConsentChanged with data.
func consentEvent(data string) string {
	return `{"eventId":"01JD3Z8Q5N0000000000000000","name":"ConsentChanged","timestamp":"2026-11-21T10:00:00.123Z","data":` + data + `}`
}

// FuzzDecodeFrame feeds arbitrary frames through what the collector does
// with a WebSocket frame: it must never panic, and what it accepts must
// satisfy the protocol's rules.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"events","sentAt":"2026-11-21T10:00:00.200Z","events":[` + goodEvent + `]}`))
	f.Add([]byte(`{"type":"hello","visitorId":"01JD3Z8Q5N0000000000000000","visitId":"","recognition":null}`))
	f.Add([]byte(`{"type":"events","events":[{"eventId":"x"},7,null,[],{"eventId":"01JD3Z8Q5N0000000000000000","name":"SignIn","timestamp":"2026-11-21T10:00:00Z","data":{"userId":5}}]}`))
	f.Add([]byte(`{"type":"visitorData.update","requestId":"r1","namespace":"campaign","value":{"a":1}}`))
	f.Add([]byte(`{"type":"events","events":[{"eventId":"01JD3Z8Q5N0000000000000000","data":"\u0000\\\"{["}]}`))
	addHostileSeeds(f, `"type":"events",`)
	f.Fuzz(func(t *testing.T, frame []byte) {
		var b Frame
		if DecodeFrame(frame, &b) != nil {
			return
		}
		if b.Type == "" {
			t.Fatal("empty type accepted")
		}
		checkAccepted(t, Client{VisitorID: b.VisitorID, VisitID: b.VisitID}, b.SentAt, b.Events)
	})
}

// FuzzDecodeCollect is FuzzDecodeFrame for a /v1/collect body, decoded
// as live decodes it, and run through prepare with the body's ids.
func FuzzDecodeCollect(f *testing.F) {
	f.Add([]byte(`{"visitorId":"01jd3z8q5n0000000000000000","visitId":"01JD3Z8Q5N0000000000000001","sentAt":"2026-11-21T10:00:00.200Z","events":[` + goodEvent + `]}`))
	f.Add([]byte(`{"visitorId":null,"events":[]}`))
	addHostileSeeds(f, `"visitorId":"01JD3Z8Q5N0000000000000000",`)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req struct {
			VisitorID string `json:"visitorId"`
			VisitID   string `json:"visitId"`
			RawBatch
		}
		if DecodeBatch(body, &req, func() []json.RawMessage { return req.Events }) != nil {
			return
		}
		checkAccepted(t, Client{VisitorID: req.VisitorID, VisitID: req.VisitID}, req.SentAt, req.Events)
	})
}

// addHostileSeeds adds the inputs of the security review: absurd times
// and durations, lower-case ids, data with invalid UTF-8 or infinite
// numbers. head opens the object ("type":"events", for a frame).
func addHostileSeeds(f *testing.F, head string) {
	for _, s := range []string{
		`{` + head + `"sentAt":"9999-12-31T23:59:59.999Z","events":[{"eventId":"01JD3Z8Q5N0000000000000000","name":"Clicked","timestamp":"0000-01-01T00:00:00.000Z"}]}`,
		`{` + head + `"sentAt":"2026-11-21T10:00:00Z","events":[{"eventId":"01JD3Z8Q5N0000000000000000","name":"PageExited","pageId":"01jd3z8q5n0000000000000001","timestamp":"2026-11-21T10:00:00Z","data":{"durationMs":9e18}}]}`,
		`{` + head + `"events":[{"eventId":"01jd3z8q5n0000000000000000","name":"Clicked","timestamp":"1999-01-01T00:00:00+23:59","data":{"n":1e999999,"s":"` + "\xff" + `"}}]}`,
		`{` + head + `"events":[{"eventId":"01JD3Z8Q5N0000000000000000","name":"Clicked","timestamp":"2026-11-21T10:00:00Z","data":{"s":"` + "\xff\xfe" + `","n":-1e308}}]}`,
		`{` + head + `"events":[{"eventId":"01JD3Z8Q5N0000000000000000","name":"Clicked","timestamp":"2026-11-21T10:00:00Z","data":{"n":[1,2e308]}}]}`,
		`{` + head + `"consent":"yes","events":[` + consentEvent(`{"state":"maybe","source":"api"}`) + `,` +
			strings.Replace(consentEvent(`{"state":"granted","source":"api"}`), "0000000000000000\"", "0000000000000001\"", 1) + `]}`,
	} {
		f.Add([]byte(s))
	}
}

// checkAccepted runs the batch's events through prepare, at a fixed
// receipt time, and fails on an accepted event that breaks a rule: no
// event may be stored with an id in lower case, a time outside its bounds,
// data that is not valid UTF-8 JSON with finite numbers, or an unbounded
// duration.
func checkAccepted(t *testing.T, c Client, sentAt string, events []json.RawMessage) {
	t.Helper()
	if len(events) > protocol.MaxBatchEvents {
		t.Fatalf("%d events accepted", len(events))
	}
	var e decodedEvent
	for _, raw := range events {
		if decodeEvent(raw, &e) == nil && (len(raw) > protocol.MaxEventBytes || protocol.Depth(raw, protocol.MaxDepth) > protocol.MaxDepth) {
			t.Fatalf("accepted an event of %d bytes, %d deep", len(raw), protocol.Depth(raw, protocol.MaxDepth))
		}
	}
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := &Ingester{now: func() time.Time { return now }}
	j := in.prepare(c, sentAt, events)
	if len(j.events)+len(j.rejected) != len(events) {
		t.Fatalf("%d events: %d accepted, %d rejected", len(events), len(j.events), len(j.rejected))
	}
	for _, id := range []string{j.client.VisitorID, j.client.VisitID} {
		if protocol.IsULID(id) && id != strings.ToUpper(id) {
			t.Fatalf("client id %q kept in lower case", id)
		}
	}
	for _, e := range j.events {
		if !protocol.IsULID(e.EventID) || e.EventID != strings.ToUpper(e.EventID) || e.PageID != strings.ToUpper(e.PageID) ||
			e.Name == "" || e.Name == protocol.EventVisitEnded {
			t.Fatalf("accepted an event with ids %q, %q, name %q", e.EventID, e.PageID, e.Name)
		}
		if e.at < 0 || e.at >= time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli() {
			t.Fatalf("accepted timestamp %q (%d)", e.Timestamp, e.at)
		}
		if e.corrected > now.UnixMilli() || e.corrected < now.Add(-90*24*time.Hour).UnixMilli() {
			t.Fatalf("corrected time %s outside [now - 90 days, now]", time.UnixMilli(e.corrected).UTC())
		}
		if e.durationMS < 0 || e.durationMS > (365*24*time.Hour).Milliseconds() {
			t.Fatalf("duration %d ms accepted", e.durationMS)
		}
		if e.Name == protocol.EventConsentChanged {
			var d struct {
				State any `json:"state"`
			}
			if json.Unmarshal(e.Data, &d) != nil || (d.State != protocol.ConsentGranted && d.State != protocol.ConsentDenied) {
				t.Fatalf("accepted a ConsentChanged with data %s", e.Data)
			}
		}
		if e.Data.IsNull() {
			continue
		}
		if !utf8.Valid(e.Data) {
			t.Fatalf("accepted data that is not UTF-8: %q", e.Data)
		}
		if err := finiteJSON(e.Data); err != nil {
			t.Fatalf("accepted data %q: %v", e.Data, err)
		}
	}
}

// finiteJSON is checkData's independent oracle: it decodes b fully and
// parses every number as a double.
func finiteJSON(b []byte) error {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return err
	}
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err != nil {
				return err
			}
		case []any:
			for _, x := range v {
				if err := walk(x); err != nil {
					return err
				}
			}
		case map[string]any:
			for _, x := range v {
				if err := walk(x); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(v)
}

func TestDecodeEventSecurityRules(t *testing.T) {
	const id, page = "01JD3Z8Q5N0000000000000000", "01JD3Z8Q5N0000000000000001"
	event := func(name, ts, data string) json.RawMessage {
		return json.RawMessage(`{"eventId":"` + strings.ToLower(id) + `","name":"` + name + `","timestamp":"` + ts +
			`","pageId":"` + strings.ToLower(page) + `","data":` + data + `}`)
	}
	var e decodedEvent
	if rej := decodeEvent(event("Clicked", "2026-11-21T10:00:00Z", "{}"), &e); rej != nil {
		t.Fatalf("lower-case ids rejected: %+v", rej)
	}
	if e.EventID != id || e.PageID != page {
		t.Fatalf("ids %s, %s; want them upper-cased", e.EventID, e.PageID)
	}
	for name, tc := range map[string]struct{ ts, data, problem string }{
		"year 0":          {"0000-01-01T00:00:00.000Z", "{}", "timestamp"},
		"before 1970":     {"1969-12-31T23:59:59.999Z", "{}", "timestamp"},
		"year 2100":       {"2100-01-01T00:00:00Z", "{}", "timestamp"},
		"year 9999":       {"9999-12-31T23:59:59.999Z", "{}", "timestamp"},
		"invalid UTF-8":   {"2026-11-21T10:00:00Z", "{\"a\":\"\xff\"}", "UTF-8"},
		"infinite":        {"2026-11-21T10:00:00Z", `{"a":1e999999}`, "range"},
		"minus infinite":  {"2026-11-21T10:00:00Z", `{"a":[1,-1E400]}`, "range"},
		"400 digits":      {"2026-11-21T10:00:00Z", `{"a":` + strings.Repeat("9", 400) + `}`, "range"},
		"after a string":  {"2026-11-21T10:00:00Z", `{"a":"x\"y","b":2e308}`, "range"},
		"in a nested key": {"2026-11-21T10:00:00Z", `{"a":{"b":[{"c":1.8e308}]}}`, "range"},
	} {
		rej := decodeEvent(event("Clicked", tc.ts, tc.data), &e)
		if rej == nil || rej.Code != protocol.CodeInvalidEvent || rej.EventID != id || !strings.Contains(rej.Message, tc.problem) {
			t.Errorf("%s: rejection %+v, want invalid_event for %s naming %s", name, rej, tc.problem, id)
		}
	}
	for name, tc := range map[string]struct{ ts, data string }{
		"year 1970":      {"1970-01-01T00:00:00Z", "{}"},
		"year 2099":      {"2099-12-31T23:59:59.999Z", "{}"},
		"offset":         {"2026-11-21T10:00:00.5+14:00", "{}"},
		"underflow is 0": {"2026-11-21T10:00:00Z", `{"a":1e-400}`},
		"the largest":    {"2026-11-21T10:00:00Z", `{"a":-1.7976931348623157e308}`},
		"in a string":    {"2026-11-21T10:00:00Z", `{"a":"1e999999","1e999":"\"1e999","b":["\\",1]}`},
		"long string":    {"2026-11-21T10:00:00Z", `{"a":"` + strings.Repeat("9", 400) + `"}`},
		"300 digits":     {"2026-11-21T10:00:00Z", `{"a":` + strings.Repeat("9", 300) + `}`},
		"unicode":        {"2026-11-21T10:00:00Z", `{"a":"€ \ud83d\ude00"}`},
	} {
		if rej := decodeEvent(event("Clicked", tc.ts, tc.data), &e); rej != nil {
			t.Errorf("%s: rejected %+v", name, rej)
		}
	}
}

func TestDurationMS(t *testing.T) {
	for data, want := range map[string]int64{
		`{"durationMs":1500}`:                1500,
		`{"durationMs":1500.9}`:              1500,
		`{"durationMs":-5}`:                  0,
		`{"durationMs":9e18}`:                maxDurationMS,
		`{"durationMs":9000000000000000000}`: maxDurationMS,
		`{"durationMs":31536000000}`:         31536000000,
		`{"durationMs":31536000001}`:         maxDurationMS,
		`{"durationMs":"12"}`:                0,
		`{"durationMs":null}`:                0,
		`{}`:                                 0,
	} {
		raw := `{"eventId":"01JD3Z8Q5N0000000000000000","name":"PageExited","timestamp":"2026-11-21T10:00:00Z","pageId":"01JD3Z8Q5N0000000000000001","data":` + data + `}`
		var e decodedEvent
		if rej := decodeEvent(json.RawMessage(raw), &e); rej != nil {
			t.Fatalf("%s: rejected %+v", data, rej)
		}
		if e.durationMS != want {
			t.Errorf("%s: durationMS %d, want %d", data, e.durationMS, want)
		}
	}
	// decodeEvent reuses its event: a PageExited without a duration after
	// one with a duration has none.
	var e decodedEvent
	for _, c := range []struct {
		data string
		want int64
	}{{`{"durationMs":1500}`, 1500}, {`null`, 0}} {
		data, want := c.data, c.want
		raw := `{"eventId":"01JD3Z8Q5N0000000000000000","name":"PageExited","timestamp":"2026-11-21T10:00:00Z","pageId":"01JD3Z8Q5N0000000000000001","data":` + data + `}`
		if rej := decodeEvent(json.RawMessage(raw), &e); rej != nil || e.durationMS != want {
			t.Fatalf("%s after another: durationMS %d (%+v), want %d", data, e.durationMS, rej, want)
		}
	}
	if maxDurationMS != 365*24*time.Hour/time.Millisecond {
		t.Fatalf("maxDurationMS is %d, not a year", maxDurationMS)
	}
}

// TestPrepareTimes checks the corrected times of a batch: the skew of
// sentAt applied, then clamped to [receivedAt - 90 days, receivedAt]; a
// sentAt that is no sane time rejects the batch's events.
func TestPrepareTimes(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	in := &Ingester{now: func() time.Time { return now }}
	day := 24 * time.Hour
	stamp := func(t time.Time) string { return t.Format("2006-01-02T15:04:05.000Z07:00") }
	event := func(n int, at time.Time) json.RawMessage {
		return json.RawMessage(`{"eventId":"01JD3Z8Q5N000000000000000` + string(rune('0'+n)) + `","name":"Clicked","timestamp":"` + stamp(at) + `"}`)
	}
	for name, tc := range map[string]struct {
		sentAt string
		at     time.Time
		want   time.Time
	}{
		"skew corrected":     {stamp(now.Add(-time.Hour)), now.Add(-time.Hour - time.Second), now.Add(-time.Second)},
		"no sentAt":          {"", now.Add(-time.Minute), now.Add(-time.Minute)},
		"future clamped":     {stamp(now), now.Add(30 * day), now},
		"past clamped":       {stamp(now), now.Add(-400 * day), now.Add(-90 * day)},
		"90 days kept":       {stamp(now), now.Add(-90 * day), now.Add(-90 * day)},
		"slow clock":         {stamp(now.Add(-50 * 365 * day)), now.Add(-50*365*day - time.Second), now.Add(-time.Second)},
		"year 1970, no skew": {"", time.UnixMilli(0), now.Add(-90 * day)},
	} {
		j := in.prepare(Client{}, tc.sentAt, []json.RawMessage{event(1, tc.at)})
		if len(j.rejected) != 0 || len(j.events) != 1 {
			t.Errorf("%s: rejected %+v", name, j.rejected)
			continue
		}
		if got := j.events[0].corrected; got != tc.want.UnixMilli() {
			t.Errorf("%s: corrected %s, want %s", name, time.UnixMilli(got).UTC(), tc.want)
		}
	}
	for _, sentAt := range []string{"9999-12-31T23:59:59.999Z", "0000-01-01T00:00:00Z", "1969-12-31T23:59:59Z", "2100-01-01T00:00:00Z", "soon", "2026-11-21"} {
		j := in.prepare(Client{}, sentAt, []json.RawMessage{event(1, now), event(2, now)})
		if len(j.events) != 0 || len(j.rejected) != 2 {
			t.Errorf("sentAt %q: %d events accepted, rejections %+v; want both rejected", sentAt, len(j.events), j.rejected)
			continue
		}
		for _, r := range j.rejected {
			if r.Code != protocol.CodeInvalidEvent || !strings.Contains(r.Message, "sentAt") || !protocol.IsULID(r.EventID) {
				t.Errorf("sentAt %q: rejection %+v", sentAt, r)
			}
		}
	}
	j := in.prepare(Client{VisitorID: "01jd3z8q5n0000000000000000", VisitID: "01jd3z8q5n000000000000000a"}, "", nil)
	if j.client.VisitorID != "01JD3Z8Q5N0000000000000000" || j.client.VisitID != "01JD3Z8Q5N000000000000000A" {
		t.Fatalf("client ids %s, %s; want them upper-cased", j.client.VisitorID, j.client.VisitID)
	}
}

// TestSurelyFinite: the shortcut may only vouch for numbers that parse.
func TestSurelyFinite(t *testing.T) {
	for n, want := range map[string]bool{
		"1": true, "-2.5e3": true, "2.5E+12": true, "1e-400": false, "9e299": false, "9e298": true,
		"1e308": false, "1e999999": false, strings.Repeat("9", 299): true, strings.Repeat("9", 300): false,
		"1" + strings.Repeat("0", 290) + "e8": true, "1" + strings.Repeat("0", 290) + "e9": false,
	} {
		if got := surelyFinite([]byte(n)); got != want {
			t.Errorf("surelyFinite(%.40s) = %v, want %v", n, got, want)
		}
		if _, err := strconv.ParseFloat(n, 64); surelyFinite([]byte(n)) && err != nil {
			t.Errorf("surelyFinite vouched for %.40s, which does not parse: %v", n, err)
		}
	}
}
