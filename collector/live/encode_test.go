package live_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
)

// TestCollectAnswerEncodedFirst: when the /v1/collect answer cannot be
// encoded (a visitor-data row that is not JSON, written behind the
// collector's back), the browser gets a 500 problem, never a 200 with a
// broken body: the events are stored, and sending them again is harmless.
func TestCollectAnswerEncodedFirst(t *testing.T) {
	col := collectortest.Start(t)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	post := func(body map[string]any) (int, string, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", col.URL()+"/v1/collect", bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		var m map[string]any
		json.Unmarshal(out, &m)
		return res.StatusCode, res.Header.Get("Content-Type"), m
	}
	event := func() map[string]any {
		e := collectortest.Event("Clicked", "", nil)
		return map[string]any{"eventId": e.EventID, "name": e.Name, "timestamp": e.Timestamp}
	}
	body := map[string]any{"visitorId": collectortest.NewID(), "visitId": collectortest.NewID(),
		"sentAt": time.Now().UTC().Format(time.RFC3339Nano), "events": []any{event()}}
	status, _, first := post(body)
	if status != http.StatusOK {
		t.Fatalf("first collect: %d %v", status, first)
	}
	visitorID, _ := first["visitorId"].(string)
	body["visitorId"], body["visitId"] = visitorID, first["visitId"]
	if key, ok := first["visitorKey"]; ok {
		body["visitorKey"] = key // the browser proves it is that visitor
	}

	st, closeDB, err := daemon.OpenStore(col.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	if _, err := st.DB().Exec(`INSERT INTO visitor_data (subject, version, data, updated_at) VALUES (?, 3, '{"crm":', 0)`,
		"visitor:"+visitorID); err != nil {
		t.Fatal(err)
	}

	e := event()
	body["events"] = []any{e}
	status, ct, m := post(body)
	if status != http.StatusInternalServerError || !strings.HasPrefix(ct, "application/problem+json") {
		t.Fatalf("collect with an unencodable answer: %d %s %v, want a 500 problem", status, ct, m)
	}
	if m["status"] != float64(http.StatusInternalServerError) || !strings.Contains(m["detail"].(string), "send the events again") {
		t.Fatalf("problem %v", m)
	}
	var l struct{ Items []map[string]any }
	col.Get("/v1/visits/"+body["visitId"].(string)+"/events", &l)
	if len(l.Items) != 2 || l.Items[1]["eventId"] != e["eventId"] {
		t.Fatalf("stored %v, want both events", l.Items)
	}
}
