package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// exportEnv is the API with the export endpoints on the fixture's store.
func exportEnv(t *testing.T) *env {
	return newEnv(t, func(h *Handler) {
		h.HandleExport(h.cfg.History.(collector.ExportService), ExportOptions{FlushEvery: 2})
	})
}

// ndjson checks an export answer and returns its lines, decoded.
func ndjson(t *testing.T, r *response) []map[string]any {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/x-ndjson" {
		t.Fatalf("Content-Type %q", ct)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(r.body))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	if len(r.body) > 0 && r.body[len(r.body)-1] != '\n' {
		t.Error("the last line is not terminated")
	}
	return out
}

// byID indexes REST items by their id field.
func byID(items []map[string]any, key string) map[string]map[string]any {
	m := map[string]map[string]any{}
	for _, it := range items {
		m[it[key].(string)] = it
	}
	return m
}

// Every exported line is the resource exactly as the History API shows
// it: same fields, same values.
func TestExportMatchesHistory(t *testing.T) {
	e := exportEnv(t)
	for _, c := range []struct{ export, list, key string }{
		{"/v1/export/events", "/v1/events?limit=1000", "eventId"},
		{"/v1/export/visits", "/v1/visits?limit=1000", "visitId"},
	} {
		lines := ndjson(t, e.get(c.export))
		var p page
		e.get(c.list).ok(t, &p)
		if len(p.Items) < 5 || len(lines) != len(p.Items) {
			t.Fatalf("%s: %d lines, the list has %d items", c.export, len(lines), len(p.Items))
		}
		want := byID(p.Items, c.key)
		for _, l := range lines {
			id, _ := l[c.key].(string)
			if !reflect.DeepEqual(l, want[id]) {
				t.Errorf("%s: line %v\nREST item %v", c.export, l, want[id])
			}
			delete(want, id)
		}
		if len(want) != 0 {
			t.Errorf("%s: not exported: %v", c.export, want)
		}
	}
	// Visits come oldest first.
	visits := ndjson(t, e.get("/v1/export/visits"))
	f := e.f
	var got []string
	for _, v := range visits {
		got = append(got, v["visitId"].(string))
	}
	if want := []string{f.V1, f.V4, f.V2, f.V3, f.V5}; !reflect.DeepEqual(got, want) {
		t.Errorf("visit order %v, want %v", got, want)
	}
}

// since and until bound the export as they bound the History lists.
func TestExportRange(t *testing.T) {
	e := exportEnv(t)
	f := e.f
	since := url.QueryEscape(f.T0.Add(2 * time.Minute).Format(time.RFC3339))
	until := url.QueryEscape(f.T0.Add(2 * time.Hour).Format(time.RFC3339))
	for _, c := range []struct{ export, list, key string }{
		{"/v1/export/events", "/v1/events", "eventId"},
		{"/v1/export/visits", "/v1/visits", "visitId"},
	} {
		q := "?since=" + since + "&until=" + until
		lines := ndjson(t, e.get(c.export+q))
		want := e.list(t, c.list+q+"&limit=1000", c.key)
		all := e.list(t, c.list+"?limit=1000", c.key)
		if len(want) == 0 || len(want) == len(all) {
			t.Fatalf("%s: the range selects %d of %d: a useless test", c.list, len(want), len(all))
		}
		got := byID(lines, c.key)
		if len(got) != len(want) {
			t.Errorf("%s: %d lines, want %d", c.export, len(got), len(want))
		}
		for _, id := range want {
			if got[id] == nil {
				t.Errorf("%s: %s missing", c.export, id)
			}
		}
	}
}

func TestExportBadRequests(t *testing.T) {
	e := exportEnv(t)
	t0 := e.f.T0
	for _, path := range []string{"/v1/export/events", "/v1/export/visits"} {
		q := "?since=" + url.QueryEscape(t0.Format(time.RFC3339)) + "&until=" + url.QueryEscape(t0.Add(-time.Hour).Format(time.RFC3339))
		if d := e.get(path+q).problem(t, http.StatusBadRequest, collector.EINVALID); !strings.Contains(d, "before until") {
			t.Errorf("%s with until before since: %q", path, d)
		}
		e.get(path+"?since=yesterday").problem(t, http.StatusBadRequest, collector.EINVALID)
		e.get(path+"?limit=5").problem(t, http.StatusBadRequest, collector.EINVALID)
		e.do("GET", path, "").problem(t, http.StatusUnauthorized, collector.EUNAUTHORIZED)
		e.do("GET", path, e.other).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
		ndjson(t, e.do("GET", path, e.admin))
	}
}

// failingExport sends two events, then fails like a database would.
type failingExport struct{ collector.ExportService }

func (failingExport) ExportEvents(ctx context.Context, f collector.ExportFilter, fn func(*collector.Event) error) error {
	for i := 0; i < 2; i++ {
		if err := fn(&collector.Event{EventID: "E", Data: json.RawMessage(`{}`)}); err != nil {
			return err
		}
	}
	return errors.New("disk I/O error")
}

func (failingExport) ExportVisits(ctx context.Context, f collector.ExportFilter, fn func(*collector.Visit) error) error {
	return errors.New("disk I/O error")
}

// An error after the 200 breaks the transfer, so that a client never takes
// a short export for a whole one; one before it is a problem answer.
func TestExportFailure(t *testing.T) {
	e := newEnv(t, func(h *Handler) { h.HandleExport(failingExport{}, ExportOptions{FlushEvery: 1}) })
	req, _ := http.NewRequest("GET", e.srv.URL+"/v1/export/events", nil)
	req.Header.Set("Authorization", "Bearer "+e.read)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err == nil {
		t.Fatalf("a failed export ended cleanly: %s", body)
	}
	if n := bytes.Count(body, []byte("\n")); n != 2 {
		t.Errorf("%d lines before the break, want 2", n)
	}
	if !strings.Contains(e.log.String(), "disk I/O error") {
		t.Errorf("the failure is not logged: %s", e.log.String())
	}
	e.get("/v1/export/visits").problem(t, http.StatusInternalServerError, collector.EINTERNAL)
}
