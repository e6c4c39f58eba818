package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/visitrack/visitrack/shared/protocol"
)

// FrameError is a frame refused as a whole: it carries the protocol error
// code (an error frame, or problem+json over HTTP).
type FrameError struct {
	Code    string
	Message string
}

func (e *FrameError) Error() string { return e.Code + ": " + e.Message }

// Frame is any browser-to-collector WebSocket frame (hello, events,
// visitorData.update), decoded in one pass; Type says which fields apply.
// Events stay raw, so that each is validated on its own.
type Frame struct {
	Type string `json:"type"`
	// hello
	VisitorID          string  `json:"visitorId"`
	VisitorKey         string  `json:"visitorKey"`
	VisitID            string  `json:"visitId"`
	Recognition        *string `json:"recognition"`
	Recognize          *bool   `json:"recognize"`
	Tracker            string  `json:"tracker"`
	VisitorDataVersion int64   `json:"visitorDataVersion"`
	URL                string  `json:"url"`
	Referrer           string  `json:"referrer"`
	Handoff            string  `json:"handoff"`
	Cookieless         bool    `json:"cookieless"`
	Consent            string  `json:"consent"`
	// events
	RawBatch
	// visitorData.update and handoff
	RequestID string          `json:"requestId"`
	Namespace string          `json:"namespace"`
	Value     json.RawMessage `json:"value"`
}

// DecodeFrame decodes a frame into f (which it resets first) and checks
// the frame limits: size, a type, at most MaxBatchEvents events.
func DecodeFrame(frame []byte, f *Frame) error {
	events := f.Events[:0] // slices of the last frame, which is done with
	*f = Frame{}
	f.Events = events
	if len(frame) <= protocol.MaxBatchBytes && onePassFrame(frame, f) {
		if len(f.Events) > protocol.MaxBatchEvents {
			return &FrameError{protocol.CodeTooManyEvents, "a batch holds at most 500 events"}
		}
		if f.Type == "" {
			return &FrameError{protocol.CodeInvalidMessage, `frame has no "type"`}
		}
		return nil
	}
	// encoding/json decodes into the elements it finds: none may be a
	// slice of an earlier frame.
	*f = Frame{}
	if err := DecodeBatch(frame, f, func() []json.RawMessage { return f.Events }); err != nil {
		return err
	}
	if f.Type == "" {
		return &FrameError{protocol.CodeInvalidMessage, `frame has no "type"`}
	}
	return nil
}

// RawBatch is an events frame or a collect request decoded down to the
// raw events, each of which is decoded and validated on its own.
type RawBatch struct {
	SentAt string            `json:"sentAt"`
	Events []json.RawMessage `json:"events"`
}

// DecodeBatch decodes the events frame (or collect body) into v, which
// embeds or is a RawBatch, and checks the batch limits.
func DecodeBatch(frame []byte, v any, events func() []json.RawMessage) error {
	if len(frame) > protocol.MaxBatchBytes {
		return &FrameError{protocol.CodeTooLarge, "batch is larger than 1 MiB"}
	}
	if err := json.Unmarshal(frame, v); err != nil {
		return &FrameError{protocol.CodeInvalidMessage, "not a valid frame: " + jsonProblem(err)}
	}
	if n := len(events()); n > protocol.MaxBatchEvents {
		return &FrameError{protocol.CodeTooManyEvents, "a batch holds at most 500 events"}
	}
	return nil
}

// decodedEvent is an event that passed validation, its ids in upper case.
type decodedEvent struct {
	protocol.Event
	at         int64 // Timestamp in Unix milliseconds, the browser's clock
	corrected  int64 // at shifted by the batch's clock skew, then clamped
	durationMS int64 // a PageExited's data.durationMs, within [0, maxDurationMS]
}

// The time rules of docs/protocol.md#what-the-collector-accepts. Every time the collector stores must
// encode as RFC 3339 (years 0 to 9999), whatever a browser sends: an
// answer that cannot be encoded breaks a whole history list.
const (
	// minTimeMS and maxTimeMS bound the browser clock readings the
	// collector accepts (timestamp and sentAt): 1970-01-01 up to, not
	// including, 2100-01-01 UTC. A clock outside them is broken, not
	// merely wrong, and the sum timestamp + (receivedAt - sentAt) of two
	// such readings could leave the years a time can be written in.
	minTimeMS = 0
	maxTimeMS = 4102444800000
	// maxPastMS is how far before its receipt a corrected time may lie:
	// 90 days. Older corrected times are clamped to it, as times after the
	// receipt are clamped to the receipt: a wrong clock moves an event,
	// it never loses it.
	maxPastMS = 90 * 24 * 60 * 60 * 1000
	// maxDurationMS bounds a page's duration (PageExited data.durationMs):
	// one year. Longer ones are clamped, negative ones count as 0.
	maxDurationMS = 365 * 24 * 60 * 60 * 1000
)

// timeRule is the message of a rejected browser time.
const timeRule = "must be an RFC 3339 time in the years 1970 to 2099, e.g. 2026-11-21T10:00:00.123Z"

// parseTime reads a browser clock reading (timestamp or sentAt) as Unix
// milliseconds; false when it is not RFC 3339 or outside the sane years.
func parseTime(s string) (int64, bool) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, false
	}
	ms := t.UnixMilli()
	return ms, ms >= minTimeMS && ms < maxTimeMS
}

// correct returns the corrected time of an event stamped at (browser
// clock) in a batch with the given skew (receivedAt - sentAt), clamped to
// [now - 90 days, now].
func correct(at, skew, now int64) int64 {
	return min(max(at+skew, now-maxPastMS), now)
}

// decodeEvent decodes and validates one raw event. On failure it returns
// the rejection to put in the ack; its EventID is the event's own when it
// could be read.
func decodeEvent(raw json.RawMessage, e *decodedEvent) *protocol.Rejection {
	reject := func(code, msg string) *protocol.Rejection {
		return &protocol.Rejection{EventID: e.EventID, Code: code, Message: msg}
	}
	*e = decodedEvent{} // e is reused: nothing may leak from the last event
	if len(raw) > protocol.MaxEventBytes {
		e.EventID = peekEventID(raw)
		return reject(protocol.CodeTooLarge, "event is larger than 16 KiB")
	}
	if onePassEvent(raw, &e.Event) {
		// Decoded in one scan, as encoding/json would have, and no
		// deeper than protocol.MaxDepth.
	} else if protocol.Depth(raw, protocol.MaxDepth) > protocol.MaxDepth {
		e.Event = protocol.Event{EventID: peekEventID(raw)}
		return reject(protocol.CodeTooDeep, "event is nested deeper than 16 levels")
	} else if err := json.Unmarshal(raw, &e.Event); err != nil {
		e.Event = protocol.Event{EventID: peekEventID(raw)}
		return reject(protocol.CodeInvalidEvent, "event is not valid: "+jsonProblem(err))
	}
	if protocol.IsULID(e.EventID) {
		// Even a rejection names the event as it is stored.
		e.EventID = protocol.UpperULID(e.EventID)
	}
	if verr := protocol.ValidateEvent(&e.Event); verr != nil {
		return reject(verr.Code, verr.Message)
	}
	e.PageID = protocol.UpperULID(e.PageID)
	var ok bool
	if e.at, ok = parseTime(e.Timestamp); !ok {
		return reject(protocol.CodeInvalidEvent, "timestamp "+timeRule)
	}
	if !e.Data.IsNull() {
		if msg := checkData(e.Data); msg != "" {
			return reject(protocol.CodeInvalidEvent, msg)
		}
		if e.Name == protocol.EventPageExited {
			e.durationMS = durationMS(e.Data)
		}
	}
	if e.Name == protocol.EventConsentChanged {
		if msg := checkConsentChange(e.Data); msg != "" {
			return reject(protocol.CodeInvalidEvent, msg)
		}
	}
	return nil
}

// checkConsentChange checks a ConsentChanged's data: its state must be
// granted or denied, since the history and the person's export show it as
// the consent given or withdrawn (docs/tracker.md#consent-signals). It
// returns what is wrong, or "". Only ConsentChanged events come here: the
// other events pay nothing for it.
func checkConsentChange(data protocol.RawJSON) string {
	var d struct {
		State *string `json:"state"`
	}
	if data.IsNull() || json.Unmarshal(data, &d) != nil || d.State == nil {
		return `ConsentChanged needs data.state, "granted" or "denied"`
	}
	if *d.State != protocol.ConsentGranted && *d.State != protocol.ConsentDenied {
		return `ConsentChanged data.state must be "granted" or "denied", not ` + strconv.Quote(clip(*d.State, 32))
	}
	return ""
}

// checkData checks event data that encoding/json accepted as syntax. Like
// visitor data, it must be valid UTF-8 (a json.RawMessage keeps the bytes
// as sent); and every number must be finite as a double, which
// is how JavaScript and most JSON libraries read it (1e999999 is Infinity
// there, and no JSON encoder can write Infinity back). It returns what is
// wrong, or "".
func checkData(b []byte) string {
	if !utf8.Valid(b) {
		return "data is not valid UTF-8"
	}
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			for i++; i < len(b) && b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
		case c == '-' || c >= '0' && c <= '9':
			j := i + 1
			for j < len(b) && isNumberByte(b[j]) {
				j++
			}
			if !surelyFinite(b[i:j]) {
				if _, err := strconv.ParseFloat(string(b[i:j]), 64); err != nil {
					return "data has a number beyond the range of a double: " + clip(string(b[i:j]), 32)
				}
			}
			i = j - 1
		}
	}
	return ""
}

// surelyFinite reports, without parsing, that the JSON number n is below
// 1e300 in magnitude: fewer than 300 characters before its exponent, and
// an exponent that keeps the sum of both under 300. Anything else is left
// to strconv.ParseFloat; this only spares common numbers such as 2.5e3 an
// allocation.
func surelyFinite(n []byte) bool {
	m := 0
	for m < len(n) && n[m] != 'e' && n[m] != 'E' {
		m++
	}
	if m == len(n) {
		return m < 300
	}
	exp, neg := 0, false
	for _, c := range n[m+1:] {
		switch {
		case c == '-':
			neg = true
		case c >= '0' && c <= '9':
			if exp = exp*10 + int(c-'0'); exp >= 300 {
				return false
			}
		}
	}
	return neg && m < 300 || m+exp < 300
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'
}

// durationMS reads a PageExited's data.durationMs, bounded to
// [0, maxDurationMS]; 0 when it is absent or not a number.
func durationMS(data []byte) int64 {
	var d struct {
		DurationMS *float64 `json:"durationMs"`
	}
	if json.Unmarshal(data, &d) != nil || d.DurationMS == nil {
		return 0
	}
	return int64(min(max(*d.DurationMS, 0), maxDurationMS))
}

// peekEventID reads the eventId of an event that failed validation, so the
// tracker can drop it; "" when it cannot be read.
func peekEventID(raw json.RawMessage) string {
	i := bytes.Index(raw, []byte(`"eventId"`))
	if i < 0 {
		return ""
	}
	rest := bytes.TrimLeft(raw[i+len(`"eventId"`):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return ""
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	if len(rest) < 28 || rest[0] != '"' || rest[27] != '"' {
		return ""
	}
	if id := string(rest[1:27]); protocol.IsULID(id) {
		return protocol.UpperULID(id)
	}
	return ""
}

// jsonProblem shortens an encoding/json error for a client.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return "syntax error at byte " + strconv.FormatInt(e.Offset, 10)
	case *json.UnmarshalTypeError:
		if e.Field != "" {
			return e.Field + " must be " + e.Type.String()
		}
		return "expected " + e.Type.String()
	}
	return err.Error()
}
