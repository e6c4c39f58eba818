package api

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestAnswerThatCannotBeEncoded: a stored value that no encoder can write
// (here event data that is not JSON, written behind the collector's back)
// gets a 500 problem, never a 200 whose body is an error.
func TestAnswerThatCannotBeEncoded(t *testing.T) {
	e := newEnv(t)
	storetest.Exec(t, e.s, `UPDATE events SET data = '{"broken":' WHERE event_id = ?`, e.f.E1)
	for _, path := range []string{"/v1/visits/" + e.f.V1 + "/events", "/v1/events?visitId=" + e.f.V1} {
		detail := e.get(path).problem(t, http.StatusInternalServerError, collector.EINTERNAL)
		if strings.Contains(detail, "broken") {
			t.Errorf("%s: the problem shows internals: %s", path, detail)
		}
	}
	if !strings.Contains(e.log.String(), "encode the answer") {
		t.Errorf("the encode failure was not logged: %s", e.log.String())
	}
	// Lists that do not hold the row still answer.
	var l list[map[string]any]
	e.get("/v1/visits/"+e.f.V2+"/events").ok(t, &l)
	if len(l.Items) == 0 {
		t.Fatal("no events of V2")
	}
}

// TestOutOfRangeTimesStillList: rows with times no RFC 3339 year can hold
// (stored before ingest bounded them) are listed with clamped times.
func TestOutOfRangeTimesStillList(t *testing.T) {
	e := newEnv(t)
	storetest.Exec(t, e.s, `UPDATE events SET corrected_at = ?, timestamp = ? WHERE event_id = ?`, int64(math.MinInt64), int64(-9e18), e.f.E1)
	storetest.Exec(t, e.s, `UPDATE pages SET entered_at = ?, duration_ms = ? WHERE page_id = ?`, int64(-9e18), int64(9e18), e.f.P1)
	for _, path := range []string{"/v1/visits/" + e.f.V1 + "/events", "/v1/events?identityId=" + e.f.Alice,
		"/v1/identities/" + e.f.Alice + "/events", "/v1/visits/" + e.f.V1 + "/pages"} {
		var l list[map[string]any]
		e.get(path).ok(t, &l)
		if len(l.Items) == 0 {
			t.Fatalf("%s: no items", path)
		}
	}
	var l list[map[string]any]
	e.get("/v1/visits/"+e.f.V1+"/events").ok(t, &l)
	if got := l.Items[0]["correctedAt"]; got != "0000-01-01T00:00:00Z" {
		t.Fatalf("first event's correctedAt %v, want it clamped to year 0", got)
	}
}

// TestWriteJSONEncodesFirst: writeJSON writes nothing when v cannot be
// encoded, so that the error path can still choose the status.
func TestWriteJSONEncodesFirst(t *testing.T) {
	rec := httptest.NewRecorder()
	err := writeJSON(rec, http.StatusOK, map[string]float64{"x": math.Inf(1)})
	if err == nil {
		t.Fatal("an unencodable value was written")
	}
	if rec.Body.Len() != 0 || rec.Header().Get("Content-Type") != "" {
		t.Fatalf("writeJSON wrote %d %q %q before failing", rec.Code, rec.Header(), rec.Body)
	}
	rec = httptest.NewRecorder()
	if err := writeJSON(rec, http.StatusCreated, map[string]int{"x": 1}); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusCreated || rec.Body.String() != "{\"x\":1}\n" || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("writeJSON wrote %d %q %q", rec.Code, rec.Header(), rec.Body)
	}
}
