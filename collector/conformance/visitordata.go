package conformance

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type visitorData struct {
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// data decodes the document's data.
func (v visitorData) data(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(v.Data, &m); err != nil {
		t.Fatalf("visitor data %s: %v", v.Data, err)
	}
	return m
}

// namespaceView is one namespace as the namespace calls answer it.
type namespaceView struct {
	Version   int64           `json:"version"`
	Namespace string          `json:"namespace"`
	Data      json.RawMessage `json:"data"`
}

func (v namespaceView) data(t *testing.T) any {
	t.Helper()
	var d any
	if err := json.Unmarshal(v.Data, &d); err != nil {
		t.Fatalf("namespace %s: %v", v.Data, err)
	}
	return d
}

// Path returns the value at keys in nested JSON objects (as decoded into
// any), nil when absent. The edge tests read frames with it too.
func Path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// testVisitorData: the REST calls on a subject's document, with versions,
// If-Match and the namespace rules.
func (s *suite) testVisitorData(t *testing.T) {
	b := newBrowser()
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	base := "/v1/visitors/" + b.visitorID + "/visitor-data"
	admin := func(method, path string, body any, header map[string]string) *response {
		ct := ""
		switch {
		case method == "PATCH":
			ct = "application/merge-patch+json"
		case body != nil:
			ct = "application/json"
		}
		return s.do(t, req{method: method, path: path, token: s.AdminToken, body: body, contentType: ct, header: header})
	}
	var vd visitorData
	r := s.getJSON(t, base, &vd)
	if vd.Version != 0 || string(vd.Data) != "{}" {
		t.Fatalf("a new visitor's data %+v, want version 0 and {}", vd)
	}
	if et := r.Header.Get("ETag"); et != `"0"` {
		t.Fatalf("ETag %q, want \"0\"", et)
	}

	doc := map[string]any{"campaign": map[string]any{"step": 1}, "crm": map[string]any{"tier": "silver"}}
	admin("PUT", base, doc, nil).wantProblem(t, http.StatusPreconditionRequired)
	r = admin("PUT", base, doc, map[string]string{"If-Match": `"0"`})
	r.want(t, http.StatusOK)
	r.decode(t, &vd)
	if vd.Version != 1 || Path(vd.data(t), "crm", "tier") != "silver" {
		t.Fatalf("after PUT: %+v, want version 1 with the document", vd)
	}
	if et := r.Header.Get("ETag"); et != `"1"` {
		t.Fatalf("ETag after PUT %q, want \"1\"", et)
	}
	admin("PUT", base, doc, map[string]string{"If-Match": `"0"`}).wantProblem(t, http.StatusPreconditionFailed)

	// A namespace patch touches that namespace alone, and answers it.
	r = admin("PATCH", base+"/crm", `{"tier":"gold","since":2024}`, nil)
	r.want(t, http.StatusOK)
	var ns namespaceView
	r.decode(t, &ns)
	if ns.Version != 2 || ns.Namespace != "crm" || Path(ns.data(t), "tier") != "gold" || Path(ns.data(t), "since") != 2024.0 {
		t.Fatalf("PATCH crm answered %s, want version 2 and crm merged", r.Body)
	}
	if et := r.Header.Get("ETag"); et != `"2"` {
		t.Fatalf("ETag after PATCH %q, want \"2\"", et)
	}
	s.getJSON(t, base, &vd)
	if m := vd.data(t); vd.Version != 2 || Path(m, "crm", "tier") != "gold" || Path(m, "campaign", "step") != 1.0 {
		t.Fatalf("after PATCH crm: version %d %s, want crm gold and campaign untouched", vd.Version, vd.Data)
	}
	admin("PATCH", base+"/crm", `{"tier":null}`, map[string]string{"If-Match": `"1"`}).wantProblem(t, http.StatusPreconditionFailed)
	s.do(t, req{method: "PATCH", path: base + "/crm", token: s.AdminToken, contentType: "application/json", body: `{"tier":"x"}`}).
		wantProblem(t, http.StatusUnsupportedMediaType)

	s.getJSON(t, base+"/crm", &ns)
	if ns.Version != 2 || ns.Namespace != "crm" || Path(ns.data(t), "tier") != "gold" || Path(ns.data(t), "step") != nil {
		t.Fatalf("GET crm: %+v, want the crm namespace alone", ns)
	}
	s.get(t, base+"/nothing_here").wantProblem(t, http.StatusNotFound)

	r = admin("DELETE", base+"/campaign", nil, nil)
	r.want(t, http.StatusNoContent)
	if et := r.Header.Get("ETag"); et != `"3"` {
		t.Fatalf("ETag after DELETE %q, want \"3\"", et)
	}
	s.getJSON(t, base, &vd)
	if _, ok := vd.data(t)["campaign"]; ok || vd.Version != 3 {
		t.Fatalf("after DELETE campaign: %+v, want version 3 without campaign", vd)
	}

	// The namespace rules.
	admin("PATCH", base+"/Bad-Name", `{"a":1}`, nil).wantProblem(t, http.StatusBadRequest)
	admin("PUT", base, `["not","an","object"]`, map[string]string{"If-Match": `"3"`}).wantProblem(t, http.StatusBadRequest)
	admin("PUT", base, map[string]any{"big": strings.Repeat("z", 65<<10)}, map[string]string{"If-Match": `"3"`}).
		wantProblem(t, http.StatusRequestEntityTooLarge)
	many := map[string]any{}
	for i := range 33 {
		many["ns"+string(rune('a'+i%26))+string(rune('a'+i/26))] = map[string]any{}
	}
	admin("PUT", base, many, map[string]string{"If-Match": `"3"`}).wantProblem(t, http.StatusBadRequest)
	s.getJSON(t, base, &vd)
	if vd.Version != 3 {
		t.Fatalf("refused writes moved the version to %d", vd.Version)
	}
}

// testVisitorDataInCollect: over HTTP, a browser gets newer visitor data in
// the /v1/collect answer, and nothing when it is up to date.
func (s *suite) testVisitorDataInCollect(t *testing.T) {
	b := newBrowser()
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	base := "/v1/visitors/" + b.visitorID + "/visitor-data"
	s.do(t, req{method: "PATCH", path: base + "/offers", token: s.AdminToken, contentType: "application/merge-patch+json",
		body: `{"discount":10}`}).want(t, http.StatusOK)

	b.dataVersion = 0
	e = b.event("Clicked", nil)
	a := s.collect(t, b, e)
	if a.VisitorData == nil || a.VisitorData.Version != 1 || !strings.Contains(string(a.VisitorData.Data), `"discount":10`) {
		t.Fatalf("collect answered visitorData %+v, want version 1 with offers", a.VisitorData)
	}
	e = b.event("Clicked", nil)
	if a = s.collect(t, b, e); a.VisitorData != nil {
		t.Fatalf("an up-to-date browser got visitorData %+v", a.VisitorData)
	}
}

// testMetadata: internal metadata is read and written by operators, and
// never reaches a browser.
func (s *suite) testMetadata(t *testing.T) {
	b := newBrowser()
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	mdPath := "/v1/visits/" + b.visitID + "/metadata"
	var md visitorData
	s.getJSON(t, mdPath, &md)
	if md.Version != 0 || string(md.Data) != "{}" {
		t.Fatalf("new visit's metadata %+v, want version 0 and {}", md)
	}
	r := s.do(t, req{method: "PUT", path: mdPath, token: s.AdminToken, body: map[string]any{"crm": map[string]any{"case": "secret-c-1"}}})
	r.want(t, http.StatusOK)
	r = s.do(t, req{method: "PATCH", path: mdPath, token: s.AdminToken, contentType: "application/merge-patch+json", body: `{"crm":{"score":5}}`})
	r.want(t, http.StatusOK)
	s.getJSON(t, mdPath, &md)
	if m := md.data(t); md.Version != 2 || Path(m, "crm", "case") != "secret-c-1" || Path(m, "crm", "score") != 5.0 {
		t.Fatalf("metadata after PUT and PATCH %+v, want version 2 with case and score", md)
	}
	s.get(t, "/v1/visits/"+newID()+"/metadata").wantProblem(t, http.StatusNotFound)

	b.dataVersion = -1
	e = b.event("Clicked", nil)
	body := s.do(t, req{method: "POST", path: "/v1/collect", body: b.body(e), header: map[string]string{"Origin": s.Origin}})
	body.want(t, http.StatusOK)
	if strings.Contains(string(body.Body), "secret-c-1") {
		t.Fatalf("internal metadata reached a browser: %s", body.Body)
	}
}

func (s *suite) testHealth(t *testing.T) {
	r := s.do(t, req{method: "GET", path: "/healthz"})
	r.want(t, http.StatusOK)
}
