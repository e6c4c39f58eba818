package live_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestCookielessOverHTTPAndWebSocket: a cookieless browser is counted on
// both transports, in one visit for the same site, address and user
// agent, and gets no key, no visitor data and no cookies; the visit says
// it is cookieless; a browser-writable namespace is refused to it.
func TestCookielessOverHTTPAndWebSocket(t *testing.T) {
	const origin = "https://shop.example"
	col := collectortest.Start(t, "--allowed-origins", origin, "--browser-writable", "prefs")
	// Visitor data for every subject there is: none may reach it.
	page := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
	status, body := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect",
		map[string]any{"cookieless": true, "cookies": "server", "visitorId": collectortest.NewID(), "events": []protocol.Event{page}},
		"Origin", origin, "User-Agent", "Firefox/133")
	if status != http.StatusOK {
		t.Fatalf("collect: %d %s", status, body)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if res.VisitorKey != "" || res.VisitorData != nil || res.Cookies != "" || len(res.Ack.EventIDs) != 1 {
		t.Fatalf("cookieless answer %s: want an ack and no key, visitor data or cookies", body)
	}
	var v collector.Visit
	col.Get("/v1/visits/"+res.VisitID, &v)
	if !v.Cookieless || v.State != protocol.StateAnonymous {
		t.Fatalf("visit %+v: want cookieless and anonymous", v)
	}

	hdr := http.Header{"Origin": {origin}, "User-Agent": {"Firefox/133"}}
	ws, resp := collectortest.DialWith(t, col.WSURL()+"?cookies=server", hdr, protocol.Hello{Cookieless: true})
	if ws.Welcome.VisitID != res.VisitID || ws.Welcome.VisitorKey != "" || string(ws.Welcome.VisitorData.Data) != "{}" {
		t.Fatalf("cookieless welcome %+v: want visit %s, no key, no data", ws.Welcome, res.VisitID)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) > 0 && ws.Welcome.Cookies != "" {
		t.Errorf("a cookieless browser was given cookies: %v (welcome cookies %q)", c, ws.Welcome.Cookies)
	}
	ws.Send(map[string]any{"type": protocol.TypeVisitorDataUpdate, "requestId": "r1", "namespace": "prefs", "value": map[string]any{"x": 1}})
	var e protocol.Error
	ws.Expect(protocol.TypeError, &e)
	if e.Code != protocol.CodeNamespaceNotWritable || e.RequestID != "r1" {
		t.Fatalf("visitor-data update in a cookieless visit: %+v", e)
	}
	ack, _ := ws.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil))
	if len(ack.EventIDs) != 1 {
		t.Fatalf("events over the cookieless socket: %+v", ack)
	}
	col.Get("/v1/visits/"+res.VisitID, &v)
	if v.EventCount != 2 {
		t.Errorf("the cookieless visit has %d events, want 2", v.EventCount)
	}
}
