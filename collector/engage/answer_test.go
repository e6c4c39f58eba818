package engage_test

import (
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// An answer resent with its eventId (its ack was lost) is the same
// answer: acked again and stored once. Another answer to the same offer,
// with another eventId, is rejected.
func TestResentAnswerIsTheSameAnswer(t *testing.T) {
	col := collectortest.Start(t)
	rule := addRule(t, col, onEvent("Ping", ""))
	c := visitOn(t, col)
	_, offers := frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
	if len(offers) == 0 {
		_, offers = frames(t, c)
	}
	accept := collectortest.Event(protocol.EventEngagementAccepted, collectortest.NewID(), map[string]string{"offerId": offers[0].OfferID})
	for i := range 2 {
		ack, _ := frames(t, c, accept)
		if len(ack.Rejected) > 0 || len(ack.EventIDs) != 1 || ack.EventIDs[0] != accept.EventID {
			t.Fatalf("answer sent %d times: ack %+v", i+1, ack)
		}
	}
	decline := collectortest.Event(protocol.EventEngagementDeclined, collectortest.NewID(), map[string]string{"offerId": offers[0].OfferID})
	if ack, _ := frames(t, c, decline); len(ack.Rejected) != 1 || ack.Rejected[0].Code != protocol.CodeInvalidEvent {
		t.Fatalf("a second answer with another eventId: ack %+v", ack)
	}
	names := eventNames(t, col, c.Welcome.VisitID)
	if n := strings.Count(names, protocol.EventEngagementAccepted); n != 1 || strings.Contains(names, protocol.EventEngagementDeclined) {
		t.Fatalf("history = %s", names)
	}
	var st struct{ Offered, Accepted, Declined int }
	col.Get("/v1/engagement/rules/"+rule+"/stats", &st)
	if st.Offered != 1 || st.Accepted != 1 || st.Declined != 0 {
		t.Fatalf("stats = %+v", st)
	}
}
