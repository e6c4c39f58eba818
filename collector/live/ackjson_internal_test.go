package live

import (
	"encoding/json"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

// checkAck fails when appendAck takes a and writes other bytes than
// json.Marshal.
func checkAck(t *testing.T, a *protocol.Ack) (taken bool) {
	t.Helper()
	want, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := appendAck(nil, a)
	if ok && string(got) != string(want) {
		t.Fatalf("appendAck wrote\n%s\njson.Marshal\n%s", got, want)
	}
	return ok
}

// TestAppendAck: the acks of the events frames are written without
// reflection, exactly as json.Marshal wrote them.
func TestAppendAck(t *testing.T) {
	const id = "01JD3Z8Q5N0000000000000000"
	rej := protocol.Rejection{EventID: id, Code: protocol.CodeInvalidEvent, Message: "timestamp must be an RFC 3339 time"}
	for _, a := range []protocol.Ack{
		{Type: protocol.TypeAck, EventIDs: []string{id, id}, Rejected: []protocol.Rejection{}},
		{Type: protocol.TypeAck, EventIDs: []string{}, Rejected: []protocol.Rejection{}},
		{EventIDs: nil, Rejected: nil},
		{Type: protocol.TypeAck, EventIDs: []string{id}, Rejected: []protocol.Rejection{rej, {}}, Refused: []protocol.Rejection{rej}},
		{Type: protocol.TypeAck, EventIDs: []string{id}, Rejected: []protocol.Rejection{}, Refused: []protocol.Rejection{}},
	} {
		if !checkAck(t, &a) {
			t.Errorf("%+v left to json.Marshal", a)
		}
	}
	for _, s := range []string{`frame has no "type"`, "a<b", "a&b", "é", "\x00", "\u2028", `\`, "\xff"} {
		a := protocol.Ack{Type: protocol.TypeAck, EventIDs: []string{id}, Rejected: []protocol.Rejection{{EventID: id, Code: "c", Message: s}}}
		if checkAck(t, &a) {
			t.Errorf("%q written by hand, json.Marshal escapes it", s)
		}
	}
}

// FuzzAppendAck compares appendAck with json.Marshal on any strings.
func FuzzAppendAck(f *testing.F) {
	f.Add("ack", "01JD3Z8Q5N0000000000000000", "invalid_event", "message", 2, 1)
	f.Add("", "", "", "<&>\"\\", 0, 0)
	f.Fuzz(func(t *testing.T, typ, id, code, msg string, ids, rejected int) {
		a := protocol.Ack{Type: typ}
		for range ids % 4 {
			a.EventIDs = append(a.EventIDs, id)
		}
		for i := range rejected % 4 {
			r := protocol.Rejection{EventID: id, Code: code, Message: msg}
			if i%2 == 0 {
				a.Rejected = append(a.Rejected, r)
			} else {
				a.Refused = append(a.Refused, r)
			}
		}
		checkAck(t, &a)
	})
}
