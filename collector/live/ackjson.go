package live

import "github.com/visitrack/visitrack/shared/protocol"

// appendAck appends a's JSON, byte for byte what json.Marshal writes, in
// one allocation at most and without reflection: an ack answers every
// events frame. It reports false, leaving the work to json.Marshal, when a
// string holds anything json.Marshal would escape.
func appendAck(b []byte, a *protocol.Ack) ([]byte, bool) {
	ok := true
	str := func(s string) {
		if !plainJSON(s) {
			ok = false
			return
		}
		b = append(append(append(b, '"'), s...), '"')
	}
	rejections := func(rs []protocol.Rejection) {
		if rs == nil {
			b = append(b, "null"...)
			return
		}
		b = append(b, '[')
		for i := range rs {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"eventId":`...)
			str(rs[i].EventID)
			b = append(b, `,"code":`...)
			str(rs[i].Code)
			b = append(b, `,"message":`...)
			str(rs[i].Message)
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	b = append(b, '{')
	if a.Type != "" {
		b = append(b, `"type":`...)
		str(a.Type)
		b = append(b, ',')
	}
	b = append(b, `"eventIds":`...)
	if a.EventIDs == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, id := range a.EventIDs {
			if i > 0 {
				b = append(b, ',')
			}
			str(id)
		}
		b = append(b, ']')
	}
	b = append(b, `,"rejected":`...)
	rejections(a.Rejected)
	if len(a.Refused) > 0 {
		b = append(b, `,"refused":`...)
		rejections(a.Refused)
	}
	return append(b, '}'), ok
}

// ackSize is about the length of a's JSON, to allocate it once.
func ackSize(a *protocol.Ack) int {
	return 64 + 29*len(a.EventIDs) + 128*(len(a.Rejected)+len(a.Refused))
}

// plainJSON reports whether json.Marshal writes s as it is between quotes:
// printable ASCII with none of the characters it escapes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}
