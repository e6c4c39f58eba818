package live_test

import (
	"bytes"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestBrowserWritableNamespaces: a browser may write only the namespaces
// of --browser-writable (names trimmed, matched exactly); any other update
// is refused with namespace_not_writable and stores nothing, and without
// the flag nothing is writable.
func TestBrowserWritableNamespaces(t *testing.T) {
	update := func(c *collectortest.Client, id, ns string) (string, []byte) {
		t.Helper()
		c.Send(protocol.VisitorDataUpdate{Type: protocol.TypeVisitorDataUpdate, RequestID: id, Namespace: ns,
			Value: protocol.RawJSON(`{"mark":"` + id + `"}`)})
		typ, b, err := c.Read()
		for err == nil && typ == protocol.TypeVisitorData && !bytes.Contains(b, []byte(id)) {
			typ, b, err = c.Read() // a push of another change
		}
		if err != nil {
			t.Fatalf("update %s of %s: %v", id, ns, err)
		}
		return typ, b
	}
	stored := func(col *collectortest.Collector, visitor string) []byte {
		t.Helper()
		status, b := col.Do("GET", "/v1/visitors/"+visitor+"/visitor-data", nil)
		if status != 200 {
			t.Fatalf("GET visitor-data: %d %s", status, b)
		}
		return b
	}

	col := collectortest.Start(t, "--browser-writable", " prefs , campaign")
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	for _, ns := range []string{"prefs", "campaign"} {
		if typ, b := update(c, "ok-"+ns, ns); typ != protocol.TypeVisitorData {
			t.Fatalf("writable %s: %s %s", ns, typ, b)
		}
	}
	for _, ns := range []string{"crm_integration", "pref", "prefs2", "campaign_x"} {
		typ, b := update(c, "no-"+ns, ns)
		if typ != protocol.TypeError || !bytes.Contains(b, []byte(`"code":"`+protocol.CodeNamespaceNotWritable+`"`)) {
			t.Fatalf("not writable %s: %s %s", ns, typ, b)
		}
	}
	got := stored(col, c.Welcome.VisitorID)
	if !bytes.Contains(got, []byte("ok-prefs")) || !bytes.Contains(got, []byte("ok-campaign")) || bytes.Contains(got, []byte("no-")) {
		t.Fatalf("stored %s: want prefs and campaign only", got)
	}

	none := collectortest.Start(t)
	c = collectortest.Dial(t, none.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	if typ, b := update(c, "no-default", "prefs"); typ != protocol.TypeError || !bytes.Contains(b, []byte(protocol.CodeNamespaceNotWritable)) {
		t.Fatalf("without --browser-writable: %s %s", typ, b)
	}
	if got := stored(none, c.Welcome.VisitorID); bytes.Contains(got, []byte("no-default")) {
		t.Fatalf("stored without --browser-writable: %s", got)
	}
}
