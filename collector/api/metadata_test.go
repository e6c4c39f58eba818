package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

func TestMetadataEndpoints(t *testing.T) {
	e := newVDEnv(t)
	path := "/v1/visits/" + e.visit + "/metadata"
	r := e.req("GET", path, "mdRead", "")
	r.want(t, 200, "")
	if !sameJSON(t, string(r.body), `{"visitId":"`+e.visit+`","version":0,"data":{},"updatedAt":null}`) || r.header.Get("ETag") != `"0"` {
		t.Fatalf("empty metadata: %s", r.body)
	}
	e.req("PUT", path, "mdWrite", `{"agent":"bob","risk":{"score":7}}`, "Content-Type", mediaJSON, "If-Match", `"0"`).want(t, 200, "")
	r = e.req("PATCH", path, "mdWrite", `{"risk":{"score":null,"reviewed":true}}`, "Content-Type", mediaMergePatch)
	r.want(t, 200, "")
	var md struct {
		Version   int64           `json:"version"`
		Data      json.RawMessage `json:"data"`
		UpdatedAt *string         `json:"updatedAt"`
	}
	if err := json.Unmarshal(r.body, &md); err != nil || md.Version != 2 || md.UpdatedAt == nil ||
		!sameJSON(t, string(md.Data), `{"agent":"bob","risk":{"reviewed":true}}`) || r.header.Get("ETag") != `"2"` {
		t.Fatalf("patched metadata: %s", r.body)
	}

	unknown := "/v1/visits/" + storetest.ID(3, 77) + "/metadata"
	refusals := []struct {
		name, token, method, path, body string
		headers                         []string
		status                          int
		code                            string
	}{
		{"no token", "", "GET", path, "", nil, 401, collector.EUNAUTHORIZED},
		{"visitor-data token", "writeAll", "GET", path, "", nil, 403, collector.EFORBIDDEN},
		{"read-only token writes", "mdRead", "PATCH", path, `{}`, []string{"Content-Type", mediaMergePatch}, 403, collector.EFORBIDDEN},
		{"unknown visit", "mdWrite", "GET", unknown, "", nil, 404, collector.ENOTFOUND},
		{"unknown visit write", "mdWrite", "PUT", unknown, `{}`, []string{"Content-Type", mediaJSON}, 404, collector.ENOTFOUND},
		{"not an object", "mdWrite", "PUT", path, `[1]`, []string{"Content-Type", mediaJSON}, 400, collector.EINVALID},
		{"invalid JSON", "mdWrite", "PATCH", path, `{"a"`, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"patch as JSON", "mdWrite", "PATCH", path, `{}`, []string{"Content-Type", mediaJSON}, 415, collector.EUNSUPPORTEDMEDIA},
		{"stale", "mdWrite", "PUT", path, `{}`, []string{"Content-Type", mediaJSON, "If-Match", `"1"`}, 412, collector.EPRECONDITIONFAILED},
		{"oversize", "mdWrite", "PUT", path, `{"s":"` + strings.Repeat("x", 70000) + `"}`, []string{"Content-Type", mediaJSON}, 413, collector.ETOOLARGE},
	}
	for _, c := range refusals {
		t.Run(c.name, func(t *testing.T) {
			e.req(c.method, c.path, c.token, c.body, c.headers...).want(t, c.status, c.code)
		})
	}
	r = e.req("GET", path, "mdRead", "")
	if !strings.Contains(string(r.body), `"version":2`) {
		t.Fatalf("refusals changed metadata: %s", r.body)
	}
}

// TestMetadataCanary: a unique string put into a visit's internal
// metadata appears in no visitor-data answer, no visitor-data change and
// no stream message, for the visitor or the identity of that visit, and
// in no row of visitor_data.
func TestMetadataCanary(t *testing.T) {
	e := newVDEnv(t)
	const canary = "canary-7f3a9c1e-internal-only"
	feedAll := e.openStream("admin", "")
	e.req("PUT", "/v1/visits/"+e.visit+"/metadata", "mdWrite", `{"note":"`+canary+`","nested":{"k":"`+canary+`"}}`, "Content-Type", mediaJSON).want(t, 200, "")
	e.req("PATCH", "/v1/visits/"+e.visit+"/metadata", "mdWrite", `{"more":"`+canary+`"}`, "Content-Type", mediaMergePatch).want(t, 200, "")
	// Visitor-data traffic for both subjects of the visit.
	e.patch("crm", "crm_integration", `{"segment":"corporate"}`).want(t, 200, "")
	vis := "/v1/visitors/" + e.visitor + "/visitor-data"
	e.req("PATCH", vis+"/campaign", "campaign", `{"seen":true}`, "Content-Type", mediaMergePatch).want(t, 200, "")
	answers := []*vdResp{
		e.req("GET", "/v1/identities/"+e.identity+"/visitor-data", "admin", ""),
		e.req("GET", "/v1/identities/"+e.identity+"/visitor-data/crm_integration", "admin", ""),
		e.req("GET", vis, "admin", ""),
		e.req("GET", vis+"/campaign", "admin", ""),
	}
	for i, r := range answers {
		r.want(t, 200, "")
		if strings.Contains(string(r.body), canary) {
			t.Fatalf("answer %d carries the canary: %s", i, r.body)
		}
	}
	for range 2 {
		feedAll.next(t)
	}
	if strings.Contains(feedAll.all(), canary) {
		t.Fatal("the stream carried the canary")
	}
	e.rec.mu.Lock()
	// The two visitor-data patches above were heard: the loop below
	// looks at something.
	if len(e.rec.got) < 2 {
		t.Fatalf("%d visitor-data changes heard, want the 2 patches", len(e.rec.got))
	}
	for _, vd := range e.rec.got {
		if strings.Contains(string(vd.Data), canary) {
			t.Fatal("a visitor-data change carried the canary")
		}
	}
	e.rec.mu.Unlock()
	if n := storetest.Count(t, e.s, "visitor_data", "data LIKE ?", "%"+canary+"%"); n != 0 {
		t.Fatalf("%d visitor_data rows carry the canary", n)
	}
	// It is there for operators, of course.
	if r := e.req("GET", "/v1/visits/"+e.visit+"/metadata", "mdRead", ""); !strings.Contains(string(r.body), canary) {
		t.Fatalf("metadata lost the canary: %s", r.body)
	}
}
