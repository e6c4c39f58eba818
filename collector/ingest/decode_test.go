package ingest

import (
	"encoding/json"
	"strings"
	"testing"

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

// FuzzDecodeFrame feeds arbitrary frames through what the collector does
// with a WebSocket frame or a collect body: it must never panic, and what
// it accepts must satisfy the protocol's rules.
func FuzzDecodeFrame(f *testing.F) {
	f.Add([]byte(`{"type":"events","sentAt":"2026-11-21T10:00:00.200Z","events":[` + goodEvent + `]}`))
	f.Add([]byte(`{"type":"hello","visitorId":"01JD3Z8Q5N0000000000000000","visitId":"","recognition":null}`))
	f.Add([]byte(`{"type":"events","events":[{"eventId":"x"},7,null,[],{"eventId":"01JD3Z8Q5N0000000000000000","name":"SignIn","timestamp":"2026-11-21T10:00:00Z","data":{"userId":5}}]}`))
	f.Add([]byte(`{"type":"visitorData.update","requestId":"r1","namespace":"campaign","value":{"a":1}}`))
	f.Add([]byte(`{"type":"events","events":[{"eventId":"01JD3Z8Q5N0000000000000000","data":"\u0000\\\"{["}]}`))
	f.Fuzz(func(t *testing.T, frame []byte) {
		var b Frame
		if DecodeFrame(frame, &b) != nil {
			return
		}
		if b.Type == "" {
			t.Fatal("empty type accepted")
		}
		if len(b.Events) > protocol.MaxBatchEvents {
			t.Fatalf("%d events accepted", len(b.Events))
		}
		var e decodedEvent
		for _, raw := range b.Events {
			if decodeEvent(raw, &e) != nil {
				continue
			}
			if !protocol.IsULID(e.EventID) || e.Name == "" || len(raw) > protocol.MaxEventBytes ||
				protocol.Depth(raw, protocol.MaxDepth) > protocol.MaxDepth {
				t.Fatalf("accepted an event that breaks the rules: %s", raw)
			}
			if !e.Data.IsNull() && !json.Valid(e.Data) {
				t.Fatalf("accepted invalid data %q", e.Data)
			}
		}
	})
}
