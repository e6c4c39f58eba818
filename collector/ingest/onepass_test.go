package ingest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// onePassSeeds are inputs the one-pass decoders must take, or must leave
// to encoding/json, as it would decode them.
var onePassSeeds = []string{
	goodEvent,
	`{"type":"events","sentAt":"2026-11-21T10:00:00.200Z","events":[` + goodEvent + `,` + goodEvent + `]}`,
	` { "type" : "events" , "events" : [ ] } `,
	`{"type":"events","events":[{"eventId":"x"},7,null,[],"s",-0.5e+3,true,false,{"a":[{"b":"\u00e9\n"}]}]}`,
	`{"eventId":"01JD3Z8Q5N0000000000000000","name":"Clicked","timestamp":"2026-11-21T10:00:00Z","data":{"s":"` + "\xff" + `","n":1e999999}}`,
	`{"eventId":"01JD3Z8Q5N0000000000000000","name":"Cliqué","title":"` + "\xe9" + `"}`,
	`{"eventId":"01JD3Z8Q5N0000000000000000","name":"Clicked","data":null}`,
	`{"eventId":"01JD3Z8Q5N0000000000000000","eventId":"01JD3Z8Q5N0000000000000001"}`,
	`{"EventId":"01JD3Z8Q5N0000000000000000","other":1}`,
	`{"eventId":"01JD\u0033Z8Q5N0000000000000000","name":"a\"b"}`,
	`{"name":5}`, `{"name":null}`, `{"data":01}`, `{"data":1.}`, `{"data":-}`, `{"data":[1,]}`, `{"data":{"a":1,}}`,
	`{"data":"\x"}`, `{"data":"\u12"}`, `{"data":tru}`, `{"data":"` + "\x01" + `"}`, `{}`, `[]`, `{"a"}`, `{"name":"x"} x`,
	`{"type":"events","events":null}`, `{"type":"events","events":[1 2]}`, `{"type":"events","type":"hello"}`,
	`{"type":"","events":[]}`, `{"data":` + strings.Repeat(`[`, 16) + strings.Repeat(`]`, 16) + `}`, `{"data":` + strings.Repeat(`[`, 15) + strings.Repeat(`]`, 15) + `}`, `{"data":` + strings.Repeat(`{"a":`, 14) + `1` + strings.Repeat(`}`, 14) + `}`, `{"sentAt":"x"}`, `{"type":"events","events":[` + strings.Repeat("[", 80) + strings.Repeat("]", 80) + `]}`,
}

// FuzzOnePass checks the one-pass decoders against encoding/json: what
// they take, encoding/json decodes without error to the same values.
func FuzzOnePass(f *testing.F) {
	for _, s := range onePassSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkOnePassEvent(t, b)
		checkOnePassFrame(t, b)
	})
}

func checkOnePassEvent(t *testing.T, b []byte) {
	t.Helper()
	var fast protocol.Event
	if !onePassEvent(b, &fast) {
		return
	}
	if d := protocol.Depth(b, protocol.MaxDepth); d > protocol.MaxDepth {
		t.Fatalf("one pass took an event %d deep: %q", d, b)
	}
	var slow protocol.Event
	if err := json.Unmarshal(b, &slow); err != nil {
		t.Fatalf("one pass took an event encoding/json refuses (%v): %q", err, b)
	}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("event %q: one pass %+v, encoding/json %+v", b, fast, slow)
	}
}

func checkOnePassFrame(t *testing.T, b []byte) {
	t.Helper()
	var fast Frame
	fast.Events = []json.RawMessage{json.RawMessage("left from the last frame")}
	if !onePassFrame(b, &fast) {
		return
	}
	var slow Frame
	if err := json.Unmarshal(b, &slow); err != nil {
		t.Fatalf("one pass took a frame encoding/json refuses (%v): %q", err, b)
	}
	if fast.Type != slow.Type || fast.SentAt != slow.SentAt || len(fast.Events) != len(slow.Events) || (fast.Events == nil) != (slow.Events == nil) {
		t.Fatalf("frame %q: one pass %q %q %d events, encoding/json %q %q %d", b, fast.Type, fast.SentAt, len(fast.Events), slow.Type, slow.SentAt, len(slow.Events))
	}
	for i := range fast.Events {
		if !bytes.Equal(fast.Events[i], slow.Events[i]) {
			t.Fatalf("frame %q: event %d is %q, encoding/json %q", b, i, fast.Events[i], slow.Events[i])
		}
	}
}

// TestOnePassTakesTheCommonShapes makes sure the fast path is the one
// taken by what trackers send, and that what it refuses still gets
// encoding/json's answer.
func TestOnePassTakesTheCommonShapes(t *testing.T) {
	var e protocol.Event
	if !onePassEvent([]byte(goodEvent), &e) || e.EventID != "01JD3Z8Q5N0000000000000000" || string(e.Data) != `{"sku":"B-42"}` || e.URL != "https://shop.example/" {
		t.Fatalf("the common event was not taken in one pass: %+v", e)
	}
	nested := func(levels int) []byte { // an event levels deep, its own object the first
		return []byte(`{"eventId":"01JD3Z8Q5N0000000000000000","data":` + strings.Repeat(`[`, levels-1) + strings.Repeat(`]`, levels-1) + `}`)
	}
	if !onePassEvent(nested(protocol.MaxDepth), &e) {
		t.Fatalf("an event of the deepest data allowed was not taken in one pass")
	}
	var d decodedEvent
	if onePassEvent(nested(protocol.MaxDepth+1), &e) {
		t.Fatalf("an event %d deep taken in one pass", protocol.MaxDepth+1)
	}
	if rej := decodeEvent(nested(protocol.MaxDepth+1), &d); rej == nil || rej.Code != protocol.CodeTooDeep || rej.EventID != "01JD3Z8Q5N0000000000000000" {
		t.Fatalf("an event %d deep: %+v", protocol.MaxDepth+1, rej)
	}
	var f Frame
	frame := `{"type":"events","sentAt":"2026-11-21T10:00:00.200Z","events":[` + goodEvent + `,{"x":[1,{"y":"\""}]}]}`
	if !onePassFrame([]byte(frame), &f) || f.Type != "events" || len(f.Events) != 2 || string(f.Events[1]) != `{"x":[1,{"y":"\""}]}` {
		t.Fatalf("the common frame was not taken in one pass: %+v", f)
	}
	for _, s := range onePassSeeds {
		checkOnePassEvent(t, []byte(s))
		checkOnePassFrame(t, []byte(s))
	}
	// The same rejections as before, word for word.
	cases := map[string]string{
		`{"eventId":"01JD3Z8Q5N0000000000000000","name":5}`:                    "event is not valid: name must be string",
		`{"eventId":"01JD3Z8Q5N0000000000000000","data":{"a":1,}}`:             "event is not valid: syntax error at byte 55",
		`{"eventId":"01JD3Z8Q5N0000000000000000","name":"x","data":[1]}`:       "",
		`{"eventId":"01JD3Z8Q5N0000000000000000","name":"Clicked","data":tru}`: "event is not valid: syntax error at byte 68",
	}
	for raw, want := range cases {
		var d decodedEvent
		rej := decodeEvent(json.RawMessage(raw), &d)
		if want == "" {
			continue
		}
		if rej == nil || rej.Message != want || rej.EventID != "01JD3Z8Q5N0000000000000000" {
			t.Errorf("%s: rejection %+v, want %q", raw, rej, want)
		}
	}
	var g Frame
	if err := DecodeFrame([]byte(`{"type":"events","events":[1,]}`), &g); err == nil || err.Error() != "invalid_message: not a valid frame: syntax error at byte 30" {
		t.Errorf("a bad frame: %v", err)
	}
	many := `{"type":"events","events":[` + strings.Repeat(`1,`, protocol.MaxBatchEvents) + `1]}`
	if err := DecodeFrame([]byte(many), &g); err == nil || !strings.Contains(err.Error(), "at most 500 events") {
		t.Errorf("501 events: %v", err)
	}
	if err := DecodeFrame([]byte(`{"events":[]}`), &g); err == nil || !strings.Contains(err.Error(), `frame has no "type"`) {
		t.Errorf("no type: %v", err)
	}
}

// TestOnePassCorpus runs the fuzz corpora of the frame decoders through
// the comparison.
func TestOnePassCorpus(t *testing.T) {
	files, _ := filepath.Glob("testdata/fuzz/FuzzDecode*/*")
	if len(files) == 0 {
		t.Fatal("no corpus")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		// go test fuzz v1, then []byte("…")
		lines := strings.SplitN(string(b), "\n", 2)
		if len(lines) < 2 {
			continue
		}
		arg := strings.TrimSpace(lines[1])
		arg = strings.TrimSuffix(strings.TrimPrefix(arg, "[]byte("), ")")
		s, err := strconv.Unquote(arg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkOnePassEvent(t, []byte(s))
		checkOnePassFrame(t, []byte(s))
		var f Frame
		if onePassFrame([]byte(s), &f) {
			for _, raw := range f.Events {
				checkOnePassEvent(t, raw)
			}
		}
	}
}
