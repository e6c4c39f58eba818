package live_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
)

// TestCollectBuffersReused: /v1/collect reuses its body and answer
// buffers from request to request (one connection, so one handler after
// another). Each answer is exactly one JSON document naming that request's
// own event and visitor, whatever came before it: a big batch whose
// buffers are not kept, a body that is not JSON, an unsupported
// Content-Type, a small batch.
func TestCollectBuffersReused(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "0")
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	post := func(contentType string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("POST", col.URL()+"/v1/collect", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Origin", collectortest.Origin)
		res, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		out, _ := io.ReadAll(res.Body)
		return res.StatusCode, out
	}
	batch := func(visitor string, n int, pad int) ([]byte, []string) {
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		var events []map[string]any
		var ids []string
		for range n {
			id := collectortest.NewID()
			ids = append(ids, id)
			events = append(events, map[string]any{"eventId": id, "name": "Click", "timestamp": ts,
				"data": map[string]any{"pad": strings.Repeat("x", pad)}})
		}
		b, _ := json.Marshal(map[string]any{"visitorId": visitor, "visitId": collectortest.NewID(), "sentAt": ts, "events": events})
		return b, ids
	}
	type answer struct {
		VisitorID string `json:"visitorId"`
		Ack       struct {
			EventIDs []string `json:"eventIds"`
		} `json:"ack"`
	}
	// one decodes an answer that must be a single JSON document.
	one := func(what string, out []byte) answer {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(out))
		var a answer
		if err := dec.Decode(&a); err != nil {
			t.Fatalf("%s: %v: %s", what, err, out)
		}
		if _, err := dec.Token(); err != io.EOF {
			t.Fatalf("%s: more than one document in the answer: %s", what, out)
		}
		return a
	}
	check := func(what, contentType string, n, pad int) {
		t.Helper()
		visitor := collectortest.NewID()
		body, ids := batch(visitor, n, pad)
		status, out := post(contentType, body)
		if status != http.StatusOK {
			t.Fatalf("%s: %d %s", what, status, out)
		}
		a := one(what, out)
		if a.VisitorID != visitor || strings.Join(a.Ack.EventIDs, ",") != strings.Join(ids, ",") {
			t.Fatalf("%s: answer for another request: %s", what, out)
		}
	}
	check("first", "text/plain;charset=UTF-8", 1, 10)
	check("second", "application/json", 2, 10)
	check("big batch", "text/plain", 100, 2000) // about 200 KB: its buffers are not kept
	check("after the big batch", "text/plain;charset=UTF-8", 1, 10)
	if status, out := post("text/plain", []byte(`{"visitorId":`)); status != http.StatusBadRequest {
		t.Fatalf("broken body: %d %s", status, out)
	}
	check("after a broken body", "text/plain;charset=UTF-8", 1, 10)
	if status, out := post("text/html", []byte(`{}`)); status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/html: %d %s", status, out)
	}
	check("after a refused Content-Type", "Application/JSON; charset=utf-8", 3, 10)
}

// TestCollectContentTypes: the Content-Types /v1/collect takes are those
// mime.ParseMediaType reads as application/json or text/plain, the
// common ones compared without it included.
func TestCollectContentTypes(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "0")
	for ct, want := range map[string]int{
		"text/plain;charset=UTF-8":                 http.StatusOK,
		"text/plain":                               http.StatusOK,
		"application/json":                         http.StatusOK,
		"application/json; charset=utf-8":          http.StatusOK,
		"TEXT/Plain ; charset=UTF-8":               http.StatusOK,
		"text/plain; charset":                      http.StatusOK, // a broken parameter: the type still reads
		"text/plain; charset=a; charset=b":         http.StatusUnsupportedMediaType,
		"text/plain/x":                             http.StatusUnsupportedMediaType,
		"text/html":                                http.StatusUnsupportedMediaType,
		"application/x-www-form-urlencoded":        http.StatusUnsupportedMediaType,
		"":                                         http.StatusUnsupportedMediaType,
		"text/plain;charset=UTF-8;charset=UTF-8":   http.StatusOK, // the same value twice: mime accepts it
		"application/json;charset=UTF-8;q=1;q=2":   http.StatusUnsupportedMediaType,
		"multipart/form-data; boundary=text/plain": http.StatusUnsupportedMediaType,
	} {
		ts := time.Now().UTC().Format(time.RFC3339Nano)
		body := `{"visitorId":"` + collectortest.NewID() + `","visitId":"` + collectortest.NewID() + `","sentAt":"` + ts +
			`","events":[{"eventId":"` + collectortest.NewID() + `","name":"Click","timestamp":"` + ts + `"}]}`
		req, _ := http.NewRequest("POST", col.URL()+"/v1/collect", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		req.Header.Set("Origin", collectortest.Origin)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("Content-Type %q: %d %s, want %d", ct, res.StatusCode, out, want)
		}
	}
}
