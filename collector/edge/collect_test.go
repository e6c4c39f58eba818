package edge_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/shared/protocol"
)

// collectEnv is a worker's settings for the collect tests.
func collectEnv() map[string]string {
	return map[string]string{
		edge.EnvRecognitionKey: strings.Repeat("c3", 32),
		edge.EnvAllowedOrigins: "http://shop.example",
	}
}

// postCollect sends n events for the visitor and visit of prev (a new
// visitor when prev is nil) and returns the status and the answer.
func postCollect(t *testing.T, url string, prev *protocol.CollectResponse, ids []string) (int, *protocol.CollectResponse, http.Header) {
	t.Helper()
	entropy := ulid.Monotonic(rand.Reader, 0)
	body := map[string]any{"visitorId": ulid.MustNew(ulid.Now(), entropy).String(), "visitId": ""}
	if prev != nil {
		body = map[string]any{"visitorId": prev.VisitorID, "visitorKey": prev.VisitorKey, "visitId": prev.VisitID}
	}
	page := ulid.MustNew(ulid.Now(), entropy).String()
	var events []map[string]any
	for _, id := range ids {
		events = append(events, map[string]any{"eventId": id, "name": "Clicked", "pageId": page,
			"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "data": map[string]any{}})
	}
	body["events"] = events
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", url+"/v1/collect", bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Origin", "http://shop.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out protocol.CollectResponse
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("answer %s: %v", raw, err)
		}
	}
	return resp.StatusCode, &out, resp.Header
}

func newIDs(n int) []string {
	entropy := ulid.Monotonic(rand.Reader, 0)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = ulid.MustNew(ulid.Now(), entropy).String()
	}
	return ids
}

// TestCollectOneBatch: the writes of a /v1/collect on a known visit reach
// the database in one batch, and its events are stored when it answers.
func TestCollectOneBatch(t *testing.T) {
	db, _, url, spy := freshWorkerSpy(t, collectEnv())
	status, first, _ := postCollect(t, url, nil, newIDs(1))
	if status != http.StatusOK {
		t.Fatalf("first collect: %d", status)
	}
	before := spy.count()
	ids := newIDs(3)
	status, second, _ := postCollect(t, url, first, ids)
	if status != http.StatusOK || len(second.Ack.EventIDs) != 3 {
		t.Fatalf("second collect: %d, ack %+v", status, second.Ack)
	}
	if n := spy.count() - before; n != 1 {
		t.Fatalf("the collect sent %d batches, want 1", n)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM events WHERE event_id IN (?, ?, ?)`, ids[0], ids[1], ids[2]).Scan(&n); err != nil || n != 3 {
		t.Fatalf("%d of the 3 acknowledged events stored (%v)", n, err)
	}
}

// TestCollectCommitFails: when the batch fails, the browser gets a 503 it
// can read (CORS), no ack, and nothing of the batch is stored; sent again,
// the events are stored once.
func TestCollectCommitFails(t *testing.T) {
	db, _, url, spy := freshWorkerSpy(t, collectEnv())
	status, first, _ := postCollect(t, url, nil, newIDs(1))
	if status != http.StatusOK {
		t.Fatalf("first collect: %d", status)
	}
	spy.failWith(errors.New("D1 is away"))
	ids := newIDs(2)
	status, _, hdr := postCollect(t, url, first, ids)
	if status != http.StatusServiceUnavailable || hdr.Get("Access-Control-Allow-Origin") != "http://shop.example" ||
		!strings.HasPrefix(hdr.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("collect with a failing batch: %d %v, want a 503 problem with CORS", status, hdr)
	}
	count := func() int {
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM events WHERE event_id IN (?, ?)`, ids[0], ids[1]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("%d events stored by a failed batch, want 0", n)
	}
	spy.failWith(nil)
	if status, out, _ := postCollect(t, url, first, ids); status != http.StatusOK || len(out.Ack.EventIDs) != 2 {
		t.Fatalf("resend: %d %+v", status, out.Ack)
	}
	if n := count(); n != 2 {
		t.Fatalf("%d events after the resend, want 2", n)
	}
}
