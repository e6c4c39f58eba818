package live_test

import (
	"encoding/json"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// After an erasure the subject's versions start again from 1. A browser
// still connected gets the erased (empty) document, then the next writes:
// it does not take them for older versions than the one it held. Over
// HTTP, a client that holds a higher version than stored gets the stored
// document.
func TestErasureStartsVersionsAgain(t *testing.T) {
	col := collectortest.Start(t)
	visitor := collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: collectortest.NewID()})
	data := "/v1/visitors/" + visitor + "/visitor-data/prefs"
	for _, theme := range []string{"dark", "light", "blue"} {
		if status, b := col.Do("PATCH", data, map[string]string{"theme": theme}, "Content-Type", "application/merge-patch+json"); status != 200 {
			t.Fatalf("PATCH: %d %s", status, b)
		}
	}
	waitFor(t, c, "version 3", version(3))

	if status, b := col.Do("DELETE", "/v1/visitors/"+visitor, nil); status != 204 {
		t.Fatalf("erase: %d %s", status, b)
	}
	waitFor(t, c, "the erased document", func(vd protocol.VisitorDataView) bool {
		return vd.Version == 0 && string(vd.Data) == "{}"
	})
	// The browser comes back (the visitor is stored again), and a backend
	// writes.
	c.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil))
	if status, b := col.Do("PATCH", data, map[string]string{"theme": "green"}, "Content-Type", "application/merge-patch+json"); status != 200 {
		t.Fatalf("PATCH after erasure: %d %s", status, b)
	}
	waitFor(t, c, "version 1 after erasure", func(vd protocol.VisitorDataView) bool {
		return vd.Version == 1 && string(vd.Data) == `{"prefs":{"theme":"green"}}`
	})

	// The HTTP transport: the client still says version 3.
	body := map[string]any{"visitorId": visitor, "visitorKey": c.Welcome.VisitorKey, "visitId": c.Welcome.VisitID, "visitorDataVersion": 3,
		"events": []protocol.Event{collectortest.Event("Browse", collectortest.NewID(), nil)}}
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body, "Content-Type", "application/json")
	if status != 200 {
		t.Fatalf("collect: %d %s", status, b)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.VisitorData == nil || res.VisitorData.Version != 1 || string(res.VisitorData.Data) != `{"prefs":{"theme":"green"}}` {
		t.Fatalf("collect answer's visitor data: %s", b)
	}
}
