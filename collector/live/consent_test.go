package live_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestBadConsentChangeRejectedAlone: a ConsentChanged whose state is not
// granted or denied is no consent given or withdrawn: it is rejected in
// the ack, naming the event and why, over the WebSocket and /v1/collect
// alike, and the good events beside it, a valid ConsentChanged among
// them, are stored.
func TestBadConsentChangeRejectedAlone(t *testing.T) {
	col := collectortest.Start(t)
	batch := func() (bad map[string]string, good []protocol.Event, all []protocol.Event) {
		g1, g2 := collectortest.Event("Good", "", nil), collectortest.Event("Good", "", nil)
		granted := collectortest.Event(protocol.EventConsentChanged, "", map[string]any{"state": "granted", "source": "api"})
		maybe := collectortest.Event(protocol.EventConsentChanged, "", map[string]any{"state": "maybe", "source": "api"})
		upper := collectortest.Event(protocol.EventConsentChanged, "", map[string]any{"state": "GRANTED"})
		unset := collectortest.Event(protocol.EventConsentChanged, "", map[string]any{"state": "unset"})
		number := collectortest.Event(protocol.EventConsentChanged, "", map[string]any{"state": 1})
		none := collectortest.Event(protocol.EventConsentChanged, "", map[string]any{"source": "gpc"})
		empty := collectortest.Event(protocol.EventConsentChanged, "", nil)
		bad = map[string]string{maybe.EventID: `not "maybe"`, upper.EventID: `not "GRANTED"`, unset.EventID: `not "unset"`,
			number.EventID: "needs data.state", none.EventID: "needs data.state", empty.EventID: "needs data.state"}
		return bad, []protocol.Event{g1, granted, g2}, []protocol.Event{g1, maybe, upper, granted, unset, number, none, empty, g2}
	}
	check := func(transport string, ack protocol.Ack, visitID string, bad map[string]string, good []protocol.Event) {
		t.Helper()
		var ids []string
		for _, e := range good {
			ids = append(ids, e.EventID)
		}
		eq(t, transport+" acked", fmt.Sprint(ack.EventIDs), fmt.Sprint(ids))
		eq(t, transport+" rejected", len(ack.Rejected), len(bad))
		for _, r := range ack.Rejected {
			if want, ok := bad[r.EventID]; !ok || r.Code != protocol.CodeInvalidEvent || !strings.Contains(r.Message, "ConsentChanged") ||
				!strings.Contains(r.Message, want) {
				t.Errorf("%s: rejection %+v, want %s saying %q", transport, r, protocol.CodeInvalidEvent, want)
			}
		}
		var evs list[event]
		col.Get("/v1/visits/"+visitID+"/events", &evs)
		stored := names(evs.Items) // in time order: these were made in the same millisecond
		slices.Sort(stored)
		eq(t, transport+" stored", fmt.Sprint(stored), "[ConsentChanged Good Good]")
	}

	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	bad, good, all := batch()
	ack, _ := c.SendEvents(false, all...)
	check("WebSocket", ack, c.Welcome.VisitID, bad, good)

	bad, good, all = batch()
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect",
		map[string]any{"visitorId": collectortest.NewID(), "visitId": collectortest.NewID(), "events": all},
		"Origin", collectortest.Origin)
	var res protocol.CollectResponse
	if status != http.StatusOK || json.Unmarshal(b, &res) != nil {
		t.Fatalf("collect: %d %s", status, b)
	}
	check("/v1/collect", res.Ack, res.VisitID, bad, good)
}
