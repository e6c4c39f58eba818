package edge_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// TestStatsCountedOnce: on the edge (ingest's Direct mode, each write
// held for the request's batch), every stored event is counted once in the
// stats rollups: plain events, an identity event (inserted on its own,
// before the batch), and nothing again for a resend.
func TestStatsCountedOnce(t *testing.T) {
	db, _, url, _ := freshWorkerSpy(t, collectEnv())
	status, first, _ := postCollect(t, url, nil, newIDs(2))
	if status != http.StatusOK {
		t.Fatalf("first collect: %d", status)
	}
	ids := newIDs(3)
	send := func() {
		t.Helper()
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		page := newIDs(1)[0]
		events := []map[string]any{
			{"eventId": ids[0], "name": "Clicked", "pageId": page, "timestamp": ts, "data": map[string]any{}},
			{"eventId": ids[1], "name": "UserInfo", "pageId": page, "timestamp": ts, "data": map[string]any{"userId": "u-1"}},
			{"eventId": ids[2], "name": "Clicked", "pageId": page, "timestamp": ts, "data": map[string]any{}},
		}
		b, _ := json.Marshal(map[string]any{"visitorId": first.VisitorID, "visitorKey": first.VisitorKey,
			"visitId": first.VisitID, "events": events})
		req, _ := http.NewRequest("POST", url+"/v1/collect", bytes.NewReader(b))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "http://shop.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var out protocol.CollectResponse
		if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &out) != nil || len(out.Ack.EventIDs) != 3 {
			t.Fatalf("collect: %d %s", resp.StatusCode, raw)
		}
	}
	counts := func() map[string]int {
		t.Helper()
		rows, err := db.Query(`SELECT name, sum(n) FROM stats_events WHERE level = 60000 GROUP BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			if err := rows.Scan(&name, &n); err != nil {
				t.Fatal(err)
			}
			got[name] = n
		}
		return got
	}
	send()
	want := map[string]int{"Clicked": 4, "UserInfo": 1}
	if got := counts(); got["Clicked"] != want["Clicked"] || got["UserInfo"] != want["UserInfo"] {
		t.Fatalf("stats after the batch: %v, want %v", got, want)
	}
	send() // a resend stores nothing, and counts nothing
	if got := counts(); got["Clicked"] != want["Clicked"] || got["UserInfo"] != want["UserInfo"] {
		t.Fatalf("stats after a resend: %v, want %v", got, want)
	}
}
