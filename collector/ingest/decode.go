package ingest

import (
	"bytes"
	"encoding/json"
	"strconv"
	"time"

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
	Tracker            string  `json:"tracker"`
	VisitorDataVersion int64   `json:"visitorDataVersion"`
	URL                string  `json:"url"`
	Referrer           string  `json:"referrer"`
	Handoff            string  `json:"handoff"`
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

// decodedEvent is an event that passed validation.
type decodedEvent struct {
	protocol.Event
	at        int64 // Timestamp in Unix milliseconds, the browser's clock
	corrected int64 // at shifted by the batch's clock skew
}

// decodeEvent decodes and validates one raw event. On failure it returns
// the rejection to put in the ack; its EventID is the event's own when it
// could be read.
func decodeEvent(raw json.RawMessage, e *decodedEvent) *protocol.Rejection {
	reject := func(code, msg string) *protocol.Rejection {
		return &protocol.Rejection{EventID: e.EventID, Code: code, Message: msg}
	}
	e.Event = protocol.Event{}
	if len(raw) > protocol.MaxEventBytes {
		e.EventID = peekEventID(raw)
		return reject(protocol.CodeTooLarge, "event is larger than 16 KiB")
	}
	if protocol.Depth(raw, protocol.MaxDepth) > protocol.MaxDepth {
		e.EventID = peekEventID(raw)
		return reject(protocol.CodeTooDeep, "event is nested deeper than 16 levels")
	}
	if err := json.Unmarshal(raw, &e.Event); err != nil {
		e.Event = protocol.Event{EventID: peekEventID(raw)}
		return reject(protocol.CodeInvalidEvent, "event is not valid: "+jsonProblem(err))
	}
	if verr := protocol.ValidateEvent(&e.Event); verr != nil {
		return reject(verr.Code, verr.Message)
	}
	t, err := time.Parse(time.RFC3339Nano, e.Timestamp)
	if err != nil {
		return reject(protocol.CodeInvalidEvent, "timestamp must be RFC 3339, e.g. 2026-11-21T10:00:00.123Z")
	}
	e.at = t.UnixMilli()
	return nil
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
		return id
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
