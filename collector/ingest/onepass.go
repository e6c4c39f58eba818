package ingest

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/visitrack/visitrack/shared/protocol"
)

// The one-pass decoders read the common shapes of an events frame and of
// an event in a single scan, where encoding/json scans its input twice
// (a validity check, then the decoding) and the frame's events were
// scanned twice more on their own. They accept only what encoding/json
// would decode to the same values: the known keys spelled exactly, each
// once; strings without escapes, in valid UTF-8; no null where a string
// or the data goes. Anything else, valid or not, makes them give up, and
// the caller decodes with encoding/json, which gives the answer and the
// error messages it always gave. FuzzOnePass checks that both agree.

// frameMaxDepth bounds the nesting the one-pass scanner follows in a
// frame's events; deeper ones go to encoding/json.
const frameMaxDepth = 64

// dataMaxDepth bounds the nesting of an event's data the scanner takes:
// with the event's own object, protocol.MaxDepth. An event it takes is no
// deeper than that, so its depth need not be measured apart; a deeper one
// goes on to the depth check, and its rejection.
const dataMaxDepth = protocol.MaxDepth - 2

// scanner reads JSON from b, at i.
type scanner struct {
	b []byte
	i int
	// maxDepth is the deepest container value follows, counted from 0.
	maxDepth int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// is skips white space and consumes c when it comes next.
func (s *scanner) is(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// plainString reads a string with no escape and no control character, in
// valid UTF-8, and returns the offsets of its contents: such a string
// decodes to its bytes as they are.
func (s *scanner) plainString() (start, end int, ok bool) {
	if !s.is('"') {
		return 0, 0, false
	}
	start = s.i
	ascii := true
	for ; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			end = s.i
			s.i++
			return start, end, ascii || utf8.Valid(s.b[start:end])
		case c == '\\' || c < 0x20:
			return 0, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return 0, 0, false
}

// value skips one JSON value, checking it as encoding/json's scanner does
// (which lets any byte from 0x20 up through in a string), and returns
// where it starts and ends.
func (s *scanner) value(depth int) (start, end int, ok bool) {
	s.space()
	start = s.i
	if s.i >= len(s.b) {
		return 0, 0, false
	}
	switch c := s.b[s.i]; {
	case c == '"':
		ok = s.anyString()
	case (c == '{' || c == '[') && depth > s.maxDepth:
		return 0, 0, false
	case c == '{':
		s.i++
		if s.is('}') {
			return start, s.i, true
		}
		for {
			s.space()
			if !s.anyString() || !s.is(':') {
				return 0, 0, false
			}
			if _, _, ok := s.value(depth + 1); !ok {
				return 0, 0, false
			}
			if s.is('}') {
				return start, s.i, true
			}
			if !s.is(',') {
				return 0, 0, false
			}
		}
	case c == '[':
		s.i++
		if s.is(']') {
			return start, s.i, true
		}
		for {
			if _, _, ok := s.value(depth + 1); !ok {
				return 0, 0, false
			}
			if s.is(']') {
				return start, s.i, true
			}
			if !s.is(',') {
				return 0, 0, false
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		ok = s.number()
	default:
		ok = s.literal("true") || s.literal("false") || s.literal("null")
	}
	return start, s.i, ok
}

// anyString skips a string, escapes included.
func (s *scanner) anyString() bool {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	for s.i++; s.i < len(s.b); s.i++ {
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return false
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if s.i+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[s.i+1 : s.i+5] {
					if !(h >= '0' && h <= '9' || h >= 'a' && h <= 'f' || h >= 'A' && h <= 'F') {
						return false
					}
				}
				s.i += 4
			default:
				return false
			}
		}
	}
	return false
}

// number skips a number of JSON's grammar.
func (s *scanner) number() bool {
	b := s.b
	if b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && b[s.i] >= '1' && b[s.i] <= '9':
		s.digits()
	default:
		return false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits skips digits and reports whether there was one.
func (s *scanner) digits() bool {
	from := s.i
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > from
}

func (s *scanner) literal(word string) bool {
	if len(s.b)-s.i >= len(word) && string(s.b[s.i:s.i+len(word)]) == word {
		s.i += len(word)
		return true
	}
	return false
}

// end reports whether only white space is left.
func (s *scanner) end() bool {
	s.space()
	return s.i == len(s.b)
}

// eventFields are the keys of an event, in protocol.Event's order.
var eventFields = [...]string{"eventId", "name", "timestamp", "pageId", "url", "title", "referrer", "data"}

// onePassEvent decodes raw into e (zero on entry), or reports false and
// leaves e to be decoded again. The strings share one allocation, a copy
// of raw; the data is a copy of its own.
func onePassEvent(raw []byte, e *protocol.Event) bool {
	s := scanner{b: raw, maxDepth: dataMaxDepth}
	if !s.is('{') {
		return false
	}
	var at [len(eventFields)][2]int
	seen := 0
	if !s.is('}') {
		for {
			ks, ke, ok := s.plainString()
			if !ok || !s.is(':') {
				return false
			}
			k := fieldIndex(raw[ks:ke])
			if k < 0 || seen&(1<<k) != 0 {
				return false
			}
			seen |= 1 << k
			var vs, ve int
			if k == len(eventFields)-1 { // data
				vs, ve, ok = s.value(0)
				ok = ok && string(raw[vs:ve]) != "null"
			} else {
				vs, ve, ok = s.plainString()
			}
			if !ok {
				return false
			}
			at[k] = [2]int{vs, ve}
			if s.is('}') {
				break
			}
			if !s.is(',') {
				return false
			}
		}
	}
	if !s.end() {
		return false
	}
	str := string(raw)
	fields := [...]*string{&e.EventID, &e.Name, &e.Timestamp, &e.PageID, &e.URL, &e.Title, &e.Referrer}
	for k, p := range fields {
		if seen&(1<<k) != 0 {
			*p = str[at[k][0]:at[k][1]]
		}
	}
	if d := len(eventFields) - 1; seen&(1<<d) != 0 {
		e.Data = append(protocol.RawJSON(nil), raw[at[d][0]:at[d][1]]...)
	}
	return true
}

func fieldIndex(key []byte) int {
	for k, name := range eventFields {
		if string(key) == name {
			return k
		}
	}
	return -1
}

// onePassFrame decodes an events frame, {"type", "sentAt", "events"},
// into f (zero but for the capacity of f.Events), or reports false. The
// events are slices of frame, not copies: the caller is done with them
// before the frame's buffer is used again.
func onePassFrame(frame []byte, f *Frame) bool {
	s := scanner{b: frame, maxDepth: frameMaxDepth}
	if !s.is('{') {
		return false
	}
	var typ, sentAt [2]int
	seen := 0
	if !s.is('}') {
		for {
			ks, ke, ok := s.plainString()
			if !ok || !s.is(':') {
				return false
			}
			var k int
			switch string(frame[ks:ke]) {
			case "type":
				k = 0
				typ[0], typ[1], ok = s.plainString()
			case "sentAt":
				k = 1
				sentAt[0], sentAt[1], ok = s.plainString()
			case "events":
				k = 2
				ok = s.events(f)
			default:
				return false
			}
			if !ok || seen&(1<<k) != 0 {
				return false
			}
			seen |= 1 << k
			if s.is('}') {
				break
			}
			if !s.is(',') {
				return false
			}
		}
	}
	if !s.end() {
		return false
	}
	if seen&(1<<2) == 0 {
		f.Events = nil // no events key: what the last frame left goes
	}
	f.Type, f.SentAt = string(frame[typ[0]:typ[1]]), string(frame[sentAt[0]:sentAt[1]])
	return true
}

// events reads the events array into f.Events, each event as its bytes.
func (s *scanner) events(f *Frame) bool {
	if !s.is('[') {
		return false
	}
	f.Events = f.Events[:0]
	if s.is(']') {
		// encoding/json makes an empty array a non-nil empty slice.
		if f.Events == nil {
			f.Events = []json.RawMessage{}
		}
		return true
	}
	for {
		vs, ve, ok := s.value(0)
		if !ok {
			return false
		}
		f.Events = append(f.Events, s.b[vs:ve:ve])
		if s.is(']') {
			return true
		}
		if !s.is(',') {
			return false
		}
	}
}
