package problem_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/problem"
)

func TestStatusMap(t *testing.T) {
	for code, status := range map[string]int{
		collector.EINVALID: 400, collector.EUNAUTHORIZED: 401, collector.EFORBIDDEN: 403, collector.ENOTFOUND: 404,
		collector.ECONFLICT: 409, collector.EGONE: 410, collector.EPRECONDITIONFAILED: 412, collector.ETOOLARGE: 413,
		collector.EUNSUPPORTEDMEDIA: 415, collector.EUNPROCESSABLE: 422, collector.EPRECONDITIONREQUIRED: 428, collector.EINTERNAL: 500,
		collector.EUNAVAILABLE: 503, collector.ESTORAGEFULL: 503, "no-such-code": 500,
	} {
		if got := problem.Status(code); got != status {
			t.Errorf("Status(%q) = %d, want %d", code, got, status)
		}
	}
}

// TestWriteError: a collector error becomes its status, code and message;
// any other error a 500 that shows nothing of it.
func TestWriteError(t *testing.T) {
	for _, c := range []struct {
		err            error
		status         int
		code, detail   string
		header, hvalue string
	}{
		{collector.Errorf(collector.EPRECONDITIONFAILED, "the version moved"), 412, collector.EPRECONDITIONFAILED, "the version moved", "", ""},
		{collector.Errorf(collector.ECONFLICT, "taken"), 409, collector.ECONFLICT, "taken", "", ""},
		{collector.Errorf(collector.EUNAUTHORIZED, "no token"), 401, collector.EUNAUTHORIZED, "no token", "WWW-Authenticate", `Bearer realm="visitrack"`},
		{collector.Errorf(collector.ESTORAGEFULL, "disk full"), 503, collector.ESTORAGEFULL, "disk full", "Retry-After", "10"},
		{errors.New("secret path /var/lib/x"), 500, collector.EINTERNAL, "internal error", "", ""},
	} {
		rec := httptest.NewRecorder()
		rec.Header().Set("ETag", `"1"`)
		problem.WriteError(rec, httptest.NewRequest("GET", "/", nil), nil, c.err)
		var d problem.Details
		if err := json.Unmarshal(rec.Body.Bytes(), &d); err != nil {
			t.Fatalf("%v: body %q: %v", c.err, rec.Body, err)
		}
		want := problem.Details{Type: "about:blank", Title: http.StatusText(c.status), Status: c.status, Code: c.code, Detail: c.detail}
		if rec.Code != c.status || d != want {
			t.Errorf("%v: %d %+v, want %d %+v", c.err, rec.Code, d, c.status, want)
		}
		h := rec.Header()
		if h.Get("Content-Type") != "application/problem+json" || h.Get("Cache-Control") != "no-store" || h.Get("ETag") != "" {
			t.Errorf("%v: headers %v", c.err, h)
		}
		if c.header != "" && h.Get(c.header) != c.hvalue {
			t.Errorf("%v: %s %q, want %q", c.err, c.header, h.Get(c.header), c.hvalue)
		}
	}
}
