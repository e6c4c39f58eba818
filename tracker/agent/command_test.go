package agent

import "testing"

// TestOpNames: every op has the loader's name and parses back from it;
// an unknown or empty name is no op.
func TestOpNames(t *testing.T) {
	for o := OpConfig; o <= OpNotifications; o++ {
		if n := o.String(); n == "" || ParseOp(n) != o {
			t.Errorf("op %d: name %q parses to %d", o, n, ParseOp(n))
		}
	}
	for _, n := range []string{"", "nope", "Event"} {
		if o := ParseOp(n); o != OpNone {
			t.Errorf("ParseOp(%q) = %d, want no op", n, o)
		}
	}
	if OpEvent.String() != "event" || OpNotifications.String() != "subscribe.notification" || Op(99).String() != "" || Op(-1).String() != "" {
		t.Error("op names do not match the loader's (web/loader/gt.js)")
	}
}
