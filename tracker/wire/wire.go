// Package wire writes the tracker's outgoing frames (docs/protocol.md) as JSON
// text without encoding/json, which would add about 200 KB (brotli) to the
// WebAssembly tracker. Field names come from the shared protocol types; the
// tests decode every frame with encoding/json into those types.
//
// Payloads the site provides (event data, visitor-data values) arrive as
// JSON text already, from the browser's JSON.stringify, and are copied
// verbatim.
package wire

import "github.com/visitrack/visitrack/shared/protocol"

// Version is the tracker version sent in hello.
const Version = "1.0.0"

// Quote appends s to dst as a JSON string.
func Quote(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// Object builds one JSON object; fields are appended in call order. The
// zero value is an empty object.
type Object struct{ b []byte }

func (o *Object) key(k string) {
	if len(o.b) == 0 {
		o.b = append(o.b, '{')
	} else {
		o.b = append(o.b, ',')
	}
	o.b = Quote(o.b, k)
	o.b = append(o.b, ':')
}

// Str writes a string field.
func (o *Object) Str(k, v string) { o.key(k); o.b = Quote(o.b, v) }

// strOmit writes k only when v is not empty (omitempty).
func (o *Object) strOmit(k, v string) {
	if v != "" {
		o.Str(k, v)
	}
}

// Nullable writes v, or null when v is empty.
func (o *Object) Nullable(k, v string) {
	if v == "" {
		o.key(k)
		o.b = append(o.b, "null"...)
		return
	}
	o.Str(k, v)
}

// Raw writes a field whose value is JSON text already.
func (o *Object) Raw(k, v string) { o.key(k); o.b = append(o.b, v...) }

// Int writes an integer field.
func (o *Object) Int(k string, v int64) { o.key(k); o.b = AppendInt(o.b, v) }

// Done returns the object's text.
func (o *Object) Done() string {
	if len(o.b) == 0 {
		return "{}"
	}
	return string(append(o.b, '}'))
}

// AppendInt appends the decimal form of v.
func AppendInt(dst []byte, v int64) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	i := len(buf)
	for {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			break
		}
	}
	return append(dst, buf[i:]...)
}

// Event encodes one event. data is a JSON object, or empty for none.
func Event(e *protocol.Event, data string) string {
	var o Object
	o.Str("eventId", e.EventID)
	o.Str("name", e.Name)
	o.Str("timestamp", e.Timestamp)
	o.strOmit("pageId", e.PageID)
	o.strOmit("url", e.URL)
	o.strOmit("title", e.Title)
	o.strOmit("referrer", e.Referrer)
	if data == "" {
		data = "{}"
	}
	o.Raw("data", data)
	return o.Done()
}

// Hello encodes the hello frame. An empty Recognition is sent as null.
func Hello(h *protocol.Hello) string {
	var o Object
	o.Str("type", protocol.TypeHello)
	rec := ""
	if h.Recognition != nil {
		rec = *h.Recognition
	}
	o.visit(h.VisitorID, h.VisitorKey, h.VisitID, rec, h.Recognize == nil || *h.Recognize)
	o.Str("tracker", Version)
	if h.VisitorDataVersion != 0 {
		o.Int("visitorDataVersion", h.VisitorDataVersion)
	}
	o.strOmit("url", h.URL)
	o.strOmit("referrer", h.Referrer)
	return o.end(h.Handoff, h.Consent)
}

// array joins encoded values into a JSON array.
func array(items []string) string {
	n := 2
	for _, it := range items {
		n += len(it) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return string(append(b, ']'))
}

// Events encodes an events frame of already encoded events.
func Events(sentAt string, events []string) string {
	var o Object
	o.Str("type", protocol.TypeEvents)
	o.Str("sentAt", sentAt)
	o.Raw("events", array(events))
	return o.Done()
}

// Collect encodes the body of POST /v1/collect. An empty recognition is
// sent as null, an empty visitorKey not at all; recognize false (a token
// that only proves the visit's identity) is sent with a token only.
// cookies, cookieDomain, handoff and consent are omitted when empty.
func Collect(visitorID, visitorKey, visitID, recognition string, recognize bool, visitorDataVersion int64, sentAt string, events []string, cookies, cookieDomain, handoff, consent string) string {
	var o Object
	o.visit(visitorID, visitorKey, visitID, recognition, recognize)
	o.Int("visitorDataVersion", visitorDataVersion)
	o.Str("sentAt", sentAt)
	o.Raw("events", array(events))
	o.strOmit("cookies", cookies)
	o.strOmit("cookieDomain", cookieDomain)
	return o.end(handoff, consent)
}

// visit writes the ids and the token that hello and collect bodies share:
// an empty visitorKey not at all, an empty recognition as null, and
// recognize false (a token that only proves the visit's identity) with a
// token only.
func (o *Object) visit(visitorID, visitorKey, visitID, recognition string, recognize bool) {
	o.Str("visitorId", visitorID)
	o.strOmit("visitorKey", visitorKey)
	o.Str("visitId", visitID)
	o.Nullable("recognition", recognition)
	if recognition != "" && !recognize {
		o.Raw("recognize", "false")
	}
}

// end writes the handoff token and the consent state that hello and
// collect bodies share, each when set, and closes the object.
func (o *Object) end(handoff, consent string) string {
	o.strOmit("handoff", handoff)
	o.strOmit("consent", consent)
	return o.Done()
}

// Forget encodes the body of POST /v1/cookies that withdraws consent,
// with the token to revoke ("" when the collector keeps it in a cookie).
func Forget(recognition string) string {
	var o Object
	o.Raw("forget", "true")
	o.strOmit("recognition", recognition)
	return o.Done()
}

// Handoff encodes a handoff request frame.
func Handoff(requestID string) string {
	var o Object
	o.Str("type", protocol.TypeHandoff)
	o.Str("requestId", requestID)
	return o.Done()
}

// VisitorDataUpdate encodes a visitorData.update frame; value is JSON text.
func VisitorDataUpdate(requestID, namespace, value string) string {
	var o Object
	o.Str("type", protocol.TypeVisitorDataUpdate)
	o.Str("requestId", requestID)
	o.Str("namespace", namespace)
	if value == "" {
		value = "null"
	}
	o.Raw("value", value)
	return o.Done()
}
