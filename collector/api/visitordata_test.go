package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/feed"
)

// The Unblu example (Unblu's knowledge base, "Visitor data": one
// namespace per system, so that no system overwrites another's data).
// unbluFirst is the document of that page; the second adds what the
// browser writes when the visitor completes the campaign, and the third is
// after the campaign tracker removed that namespace and the CRM moved
// cash_mgmt from its campaigns to follow-up meetings. (Only the first is
// quoted; the other two are rebuilt from the steps the page describes.)
const (
	unbluFirst = `{
		"crm_integration": {
			"customer_segment": "corporate",
			"talking_points": ["loans", "forex", "export_finance"],
			"campaigns": ["forex", "cash_mgmt"]
		},
		"digital_signature": {"digital_signature_waiver": true}
	}`
	unbluSecond = `{
		"crm_integration": {
			"customer_segment": "corporate",
			"talking_points": ["loans", "forex", "export_finance"],
			"campaigns": ["forex", "cash_mgmt"]
		},
		"digital_signature": {"digital_signature_waiver": true},
		"campaign": {"id": "cash_mgmt", "completed": true}
	}`
	unbluThird = `{
		"crm_integration": {
			"customer_segment": "corporate",
			"talking_points": ["loans", "forex", "export_finance"],
			"campaigns": ["forex"],
			"follow_up_meetings": ["cash_mgmt"]
		},
		"digital_signature": {"digital_signature_waiver": true}
	}`
)

func TestUnbluExample(t *testing.T) {
	e := newVDEnv(t)
	feedOf := e.openStream("reader", "")
	id := "/v1/identities/" + e.identity + "/visitor-data"

	// 1. The CRM writes its namespace, the signature system its own.
	e.patch("crm", "crm_integration", `{"customer_segment":"corporate","talking_points":["loans","forex","export_finance"],"campaigns":["forex","cash_mgmt"]}`).want(t, 200, "")
	e.patch("signature", "digital_signature", `{"digital_signature_waiver":true}`).want(t, 200, "")
	if v, doc := e.doc(); v != 2 || !sameJSON(t, doc, unbluFirst) {
		t.Fatalf("first document v%d %s", v, doc)
	}
	// 2. The browser writes campaign: package live calls PutNamespace for
	// a browser-writable namespace.
	if _, err := e.vd.PutNamespace(context.Background(), e.alice, "campaign", json.RawMessage(`{"id":"cash_mgmt","completed":true}`)); err != nil {
		t.Fatal(err)
	}
	if v, doc := e.doc(); v != 3 || !sameJSON(t, doc, unbluSecond) {
		t.Fatalf("second document v%d %s", v, doc)
	}
	// 3. The campaign tracker removes its namespace; the CRM moves
	// cash_mgmt to follow-up meetings, conditionally on what it read.
	r := e.req("DELETE", id+"/campaign", "campaign", "")
	r.want(t, http.StatusNoContent, "")
	if r.header.Get("ETag") != `"4"` {
		t.Fatalf("DELETE ETag %q", r.header.Get("ETag"))
	}
	r = e.req("GET", id+"/crm_integration", "crm", "")
	r.want(t, 200, "")
	r = e.patch("crm", "crm_integration", `{"campaigns":["forex"],"follow_up_meetings":["cash_mgmt"]}`, "If-Match", r.header.Get("ETag"))
	r.want(t, 200, "")
	var nv namespaceView
	json.Unmarshal(r.body, &nv)
	if nv.Version != 5 || nv.Namespace != "crm_integration" || strings.Contains(string(r.body), "digital_signature") {
		t.Fatalf("PATCH answered %s", r.body)
	}
	v, doc := e.doc()
	if v != 5 || !sameJSON(t, doc, unbluThird) {
		t.Fatalf("third document v%d %s, want %s", v, doc, unbluThird)
	}

	// A follower of the feed saw every version in order, whole.
	wantDocs := []string{"", "", unbluFirst, unbluSecond, "", unbluThird}
	for version := int64(1); version <= 5; version++ {
		ev := feedOf.next(t)
		var m feed.VisitorDataMessage
		if ev.event != feed.KindVisitorData || json.Unmarshal([]byte(ev.data), &m) != nil {
			t.Fatalf("stream event %s %s", ev.event, ev.data)
		}
		if m.Version != version || m.Subject != e.alice.Key() || m.IdentityID != e.identity {
			t.Fatalf("stream message %s, want version %d of %s", ev.data, version, e.alice.Key())
		}
		if wantDocs[version] != "" && !sameJSON(t, string(m.Data), wantDocs[version]) {
			t.Fatalf("stream version %d: %s", version, m.Data)
		}
	}
	// So did the listener that package live implements.
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	if len(e.rec.got) != 5 {
		t.Fatalf("listener heard %d changes", len(e.rec.got))
	}
	for i, vd := range e.rec.got {
		if vd.Version != int64(i+1) || vd.Subject != e.alice {
			t.Fatalf("listener change %d: %+v", i, vd)
		}
	}
}

// TestNoLostUpdate: 8 systems patch their own namespace of one identity
// 200 times each, concurrently, over HTTP, while two systems rewrite the
// whole document with If-Match and retry on 412. Every writer's last value
// is in the final document and the version is the number of successful
// writes.
func TestNoLostUpdate(t *testing.T) {
	e := newVDEnv(t)
	const writers, patches, wholeWrites = 8, 200, 20
	var wg sync.WaitGroup
	var mu sync.Mutex
	successes, preconditionFailures := 0, 0
	fail := make(chan string, 64)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := fmt.Sprintf("writer_%d", w)
			for i := range patches {
				r := e.patch("writeAll", ns, fmt.Sprintf(`{"n":%d,"w%d":%d}`, i, i%4, i))
				if r.status != 200 {
					fail <- fmt.Sprintf("%s patch %d: %d %s", ns, i, r.status, r.body)
					return
				}
				mu.Lock()
				successes++
				mu.Unlock()
			}
		}()
	}
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ns := fmt.Sprintf("whole_%d", w)
			path := "/v1/identities/" + e.identity + "/visitor-data"
			for i := 0; i < wholeWrites; {
				r := e.req("GET", path, "writeAll", "")
				var cur documentView
				if r.status != 200 || json.Unmarshal(r.body, &cur) != nil {
					fail <- fmt.Sprintf("GET: %d %s", r.status, r.body)
					return
				}
				var doc map[string]json.RawMessage
				json.Unmarshal(cur.Data, &doc)
				doc[ns] = json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
				b, _ := json.Marshal(doc)
				r = e.req("PUT", path, "writeAll", string(b), "Content-Type", mediaJSON, "If-Match", r.header.Get("ETag"))
				switch r.status {
				case 200:
					mu.Lock()
					successes++
					mu.Unlock()
					i++
				case http.StatusPreconditionFailed:
					mu.Lock()
					preconditionFailures++
					mu.Unlock()
				default:
					fail <- fmt.Sprintf("PUT: %d %s", r.status, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(fail)
	for msg := range fail {
		t.Fatal(msg)
	}
	v, doc := e.doc()
	var final map[string]map[string]int
	if err := json.Unmarshal([]byte(doc), &final); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		ns := fmt.Sprintf("writer_%d", w)
		last := patches - 1
		if got := final[ns]; got["n"] != last || got[fmt.Sprintf("w%d", last%4)] != last {
			t.Errorf("%s = %v, want n=%d", ns, got, last)
		}
	}
	for w := range 2 {
		if got := final[fmt.Sprintf("whole_%d", w)]["n"]; got != wholeWrites-1 {
			t.Errorf("whole_%d n=%d, want %d", w, got, wholeWrites-1)
		}
	}
	want := writers*patches + 2*wholeWrites
	if successes != want || v != int64(successes) {
		t.Fatalf("version %d, successful writes %d, want both %d", v, successes, want)
	}
	t.Logf("%d successful writes, %d whole-document PUTs refused with 412 and retried", successes, preconditionFailures)
}

func TestVisitorDataBadInput(t *testing.T) {
	e := newVDEnv(t)
	id := "/v1/identities/" + e.identity + "/visitor-data"
	e.patch("writeAll", "crm_integration", `{"a":1}`).want(t, 200, "")
	big := strings.Repeat("x", 65*1024)
	nearlyFull := `{"s":"` + strings.Repeat("y", 65000) + `"}`
	e.patch("writeAll", "filler", nearlyFull).want(t, 200, "")
	v0, doc0 := e.doc()
	many := "{"
	for i := range 33 {
		many += fmt.Sprintf(`"ns_%d":{},`, i)
	}
	many = strings.TrimSuffix(many, ",") + "}"
	deep := strings.Repeat(`{"a":`, 17) + "1" + strings.Repeat("}", 17)
	cases := []struct {
		name, method, path, body string
		headers                  []string
		status                   int
		code                     string
	}{
		{"invalid JSON patch", "PATCH", id + "/crm_integration", `{"a":`, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"array patch", "PATCH", id + "/crm_integration", `[1,2]`, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"null patch", "PATCH", id + "/crm_integration", `null`, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"empty patch", "PATCH", id + "/crm_integration", ``, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"patch as application/json", "PATCH", id + "/crm_integration", `{"a":2}`, []string{"Content-Type", mediaJSON}, 415, collector.EUNSUPPORTEDMEDIA},
		{"patch without type", "PATCH", id + "/crm_integration", `{"a":2}`, nil, 415, collector.EUNSUPPORTEDMEDIA},
		{"bad name in path", "PATCH", id + "/CRM", `{"a":2}`, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"name too long", "PATCH", id + "/" + strings.Repeat("a", 65), `{"a":2}`, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"oversize patch", "PATCH", id + "/crm_integration", `{"s":"` + big + `"}`, []string{"Content-Type", mediaMergePatch}, 413, collector.ETOOLARGE},
		{"patch past 64 KiB", "PATCH", id + "/crm_integration", `{"s":"` + strings.Repeat("z", 1000) + `"}`, []string{"Content-Type", mediaMergePatch}, 413, collector.ETOOLARGE},
		{"too deep patch", "PATCH", id + "/crm_integration", deep, []string{"Content-Type", mediaMergePatch}, 400, collector.EINVALID},
		{"put namespace not object", "PUT", id + "/crm_integration", `"x"`, []string{"Content-Type", mediaJSON}, 400, collector.EINVALID},
		{"put: no If-Match", "PUT", id, `{}`, []string{"Content-Type", mediaJSON}, 428, collector.EPRECONDITIONREQUIRED},
		{"put: stale If-Match", "PUT", id, `{}`, []string{"Content-Type", mediaJSON, "If-Match", `"1"`}, 412, collector.EPRECONDITIONFAILED},
		{"put: If-Match *", "PUT", id, `{}`, []string{"Content-Type", mediaJSON, "If-Match", `*`}, 400, collector.EINVALID},
		{"put: garbage If-Match", "PUT", id, `{}`, []string{"Content-Type", mediaJSON, "If-Match", `"abc"`}, 400, collector.EINVALID},
		{"put: invalid JSON", "PUT", id, `{"crm_integration":`, []string{"Content-Type", mediaJSON, "If-Match", itoa(v0)}, 400, collector.EINVALID},
		{"put: top level array", "PUT", id, `[{"a":1}]`, []string{"Content-Type", mediaJSON, "If-Match", itoa(v0)}, 400, collector.EINVALID},
		{"put: namespace a string", "PUT", id, `{"crm_integration":"x"}`, []string{"Content-Type", mediaJSON, "If-Match", itoa(v0)}, 400, collector.EINVALID},
		{"put: bad name", "PUT", id, `{"Bad-Name":{}}`, []string{"Content-Type", mediaJSON, "If-Match", itoa(v0)}, 400, collector.EINVALID},
		{"put: 33 namespaces", "PUT", id, many, []string{"Content-Type", mediaJSON, "If-Match", itoa(v0)}, 400, collector.EINVALID},
		{"put: oversize", "PUT", id, `{"a":{"s":"` + big + `"}}`, []string{"Content-Type", mediaJSON, "If-Match", itoa(v0)}, 413, collector.ETOOLARGE},
		{"put: text/plain", "PUT", id, `{}`, []string{"Content-Type", "text/plain", "If-Match", itoa(v0)}, 415, collector.EUNSUPPORTEDMEDIA},
		{"delete missing namespace", "DELETE", id + "/nothing_here", ``, nil, 404, collector.ENOTFOUND},
		{"delete stale If-Match", "DELETE", id + "/crm_integration", ``, []string{"If-Match", `"1"`}, 412, collector.EPRECONDITIONFAILED},
		{"unknown identity", "PATCH", "/v1/identities/" + strings.Repeat("7", 26) + "/visitor-data/crm_integration", `{}`, []string{"Content-Type", mediaMergePatch}, 404, collector.ENOTFOUND},
		{"not a ULID", "GET", "/v1/identities/alice/visitor-data", ``, nil, 400, collector.EINVALID},
		{"unknown query parameter", "GET", id + "?fields=a", ``, nil, 400, collector.EINVALID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.req(c.method, c.path, "writeAll", c.body, c.headers...).want(t, c.status, c.code)
			if v, doc := e.doc(); v != v0 || doc != doc0 {
				t.Fatalf("document changed: v%d→v%d", v0, v)
			}
		})
	}
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	if len(e.rec.got) != 2 {
		t.Fatalf("refused writes were announced: %d changes", len(e.rec.got))
	}
}

func TestVisitorDataScopes(t *testing.T) {
	e := newVDEnv(t)
	id := "/v1/identities/" + e.identity + "/visitor-data"
	e.patch("crm", "crm_integration", `{"campaigns":["forex"]}`).want(t, 200, "")
	e.patch("signature", "digital_signature", `{"digital_signature_waiver":true}`).want(t, 200, "")
	v0, doc0 := e.doc()
	etag := `"` + itoa(v0) + `"`
	mp := []string{"Content-Type", mediaMergePatch}
	refused := []struct {
		name, token, method, path, body string
		headers                         []string
		status                          int
	}{
		{"no token", "", "GET", id, "", nil, 401},
		{"metadata token reads visitor data", "mdWrite", "GET", id, "", nil, 403},
		{"history token reads visitor data", "history", "GET", id, "", nil, 403},
		{"crm patches digital_signature", "crm", "PATCH", id + "/digital_signature", `{"digital_signature_waiver":false}`, mp, 403},
		{"crm deletes digital_signature", "crm", "DELETE", id + "/digital_signature", "", nil, 403},
		{"crm puts digital_signature", "crm", "PUT", id + "/digital_signature", `{}`, []string{"Content-Type", mediaJSON}, 403},
		{"crm PUT changes digital_signature", "crm", "PUT", id, `{"crm_integration":{"campaigns":["forex"]},"digital_signature":{"digital_signature_waiver":false}}`, []string{"Content-Type", mediaJSON, "If-Match", etag}, 403},
		{"crm PUT drops digital_signature", "crm", "PUT", id, `{"crm_integration":{"campaigns":[]}}`, []string{"Content-Type", mediaJSON, "If-Match", etag}, 403},
		{"crm PUT adds a namespace", "crm", "PUT", id, `{"crm_integration":{},"digital_signature":{"digital_signature_waiver":true},"x":{}}`, []string{"Content-Type", mediaJSON, "If-Match", etag}, 403},
		{"reader PUTs", "reader", "PUT", id, doc0, []string{"Content-Type", mediaJSON, "If-Match", etag}, 403},
		{"reader patches", "reader", "PATCH", id + "/crm_integration", `{}`, mp, 403},
		{"write-only token reads the document", "crmOnly", "GET", id, "", nil, 403},
		{"write-only token reads another namespace", "crmOnly", "GET", id + "/digital_signature", "", nil, 403},
		{"write-only token PUTs the document", "crmOnly", "PUT", id, doc0, []string{"Content-Type", mediaJSON, "If-Match", etag}, 403},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			code := collector.EFORBIDDEN
			if c.status == 401 {
				code = collector.EUNAUTHORIZED
			}
			e.req(c.method, c.path, c.token, c.body, c.headers...).want(t, c.status, code)
			if v, doc := e.doc(); v != v0 || doc != doc0 {
				t.Fatalf("document changed: v%d %s", v, doc)
			}
		})
	}
	// What the scopes do allow: the CRM rewrites the whole document
	// changing only its namespace (others byte-for-byte as read), and a
	// write-only token reads and writes its own namespace.
	r := e.req("PUT", id, "crm", `{"digital_signature":{"digital_signature_waiver":true},"crm_integration":{"campaigns":["forex","loans"]}}`, "Content-Type", mediaJSON, "If-Match", etag)
	r.want(t, 200, "")
	if r.header.Get("ETag") != `"3"` {
		t.Fatalf("PUT ETag %q", r.header.Get("ETag"))
	}
	e.req("GET", id+"/crm_integration", "crmOnly", "").want(t, 200, "")
	e.patch("crmOnly", "crm_integration", `{"segment":"corporate"}`).want(t, 200, "")
	e.patch("admin", "anything", `{"ok":true}`).want(t, 200, "")
	if v, _ := e.doc(); v != 5 {
		t.Fatalf("version %d after 5 writes", v)
	}
}

// The visitor subject works the same way, and stitching (called by ingest
// at SignIn) shows in the API and the feed.
func TestVisitorSubjectAndStitch(t *testing.T) {
	e := newVDEnv(t)
	feedOf := e.openStream("reader", "?types=visitorData")
	vis := "/v1/visitors/" + e.visitor + "/visitor-data"
	r := e.req("GET", vis, "reader", "")
	r.want(t, 200, "")
	if string(r.body) != "{\"version\":0,\"data\":{}}\n" || r.header.Get("ETag") != `"0"` {
		t.Fatalf("empty visitor document: %s %s", r.header.Get("ETag"), r.body)
	}
	e.req("PATCH", vis+"/campaign", "campaign", `{"seen":true}`, "Content-Type", mediaMergePatch).want(t, 200, "")
	e.patch("crm", "crm_integration", `{"segment":"corporate"}`).want(t, 200, "")
	if _, err := e.vd.StitchVisitorData(context.Background(), e.visitor, e.identity); err != nil {
		t.Fatal(err)
	}
	if v, doc := e.doc(); v != 2 || !sameJSON(t, doc, `{"campaign":{"seen":true},"crm_integration":{"segment":"corporate"}}`) {
		t.Fatalf("identity after stitch v%d %s", v, doc)
	}
	r = e.req("GET", vis, "reader", "")
	if string(r.body) != "{\"version\":2,\"data\":{}}\n" {
		t.Fatalf("visitor after stitch: %s", r.body)
	}
	var seen []string
	for range 4 {
		var m feed.VisitorDataMessage
		json.Unmarshal([]byte(feedOf.next(t).data), &m)
		seen = append(seen, fmt.Sprintf("%s@%d", m.Subject[:strings.Index(m.Subject, ":")], m.Version))
	}
	if got := strings.Join(seen, " "); got != "visitor@1 identity@1 identity@2 visitor@2" {
		t.Fatalf("feed saw %s", got)
	}
}
