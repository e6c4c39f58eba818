package live

import "testing"

// TestEndedConnectionStaysUnsubscribed: a connection's push loop can
// demote it (and so subscribe it) after the connection ended and left
// the hub; it must not come back into the subscriptions, where nothing
// would ever remove it again.
func TestEndedConnectionStaysUnsubscribed(t *testing.T) {
	h := New(Config{})
	c := &conn{hub: h}
	if !h.register(c) {
		t.Fatal("register refused")
	}
	h.subscribe(c, "visitor:A")
	if h.subjectOf(c) != "visitor:A" || !h.hasSubscribers("visitor:A") {
		t.Fatalf("an open connection is not subscribed: %q", h.subjectOf(c))
	}
	h.unregister(c)
	if h.hasSubscribers("visitor:A") {
		t.Fatal("an ended connection is still subscribed")
	}
	h.subscribe(c, "visitor:B")
	if h.hasSubscribers("visitor:B") || h.subjectOf(c) != "" {
		t.Fatalf("an ended connection was subscribed again (subject %q): it would never leave", h.subjectOf(c))
	}
}
