package daemon_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/shared/protocol"
)

// tab is a browser of an exported person: its ids, its key, and the
// recognition token that keeps its visit the identity's (a key alone
// proves the browser, never the person).
type tab struct {
	visitorID, visitorKey, visitID string
	recognition                    *string
}

// sendAs posts events from a browser into its visit and wants them all
// acknowledged.
func sendAs(t *testing.T, col *collectortest.Collector, b *tab, events ...protocol.Event) protocol.CollectResponse {
	t.Helper()
	status, body := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", protocol.CollectRequest{
		VisitorID: b.visitorID, VisitorKey: b.visitorKey, VisitID: b.visitID, Recognition: b.recognition, Events: events})
	if status != http.StatusOK {
		t.Fatalf("collect: %d %s", status, body)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Ack.EventIDs) != len(events) || res.VisitID != b.visitID || res.VisitorID != b.visitorID {
		t.Fatalf("collect into %s: %s", b.visitID, body)
	}
	if res.VisitorKey != "" {
		b.visitorKey = res.VisitorKey
	}
	if res.Identity != nil {
		b.recognition = res.Identity.Recognition
	}
	return res
}

// signInNew opens a visit on a new browser with ids of its own, as the
// tracker makes them, and signs userID in with a proof.
func signInNew(t *testing.T, col *collectortest.Collector, userID, landing string) (*tab, string) {
	t.Helper()
	b := &tab{visitorID: collectortest.NewID(), visitID: collectortest.NewID()}
	page := collectortest.NewID()
	entered := collectortest.Event(protocol.EventPageEntered, page, nil)
	entered.URL = landing
	proof := collectortest.Event(protocol.EventSignIn, page, map[string]string{
		"userId": userID, "userHash": identity.UserHash(testSecret, userID)})
	res := sendAs(t, col, b, entered, proof)
	if res.Identity == nil || res.Identity.IdentityID == nil || !res.Identity.Verified {
		t.Fatalf("SignIn of %s was not verified: %+v", userID, res.Identity)
	}
	return b, *res.Identity.IdentityID
}

// exportPerson is one hand-built person: an identity on browsers with visits,
// pages, business events, visitor data in namespaces, and metadata.
type exportPerson struct {
	identityID string
	browsers   []*tab
	// markers are strings stored only in this person's rows.
	markers []string
}

// buildPerson signs userID in on browsers new browsers, each with a
// second page and a business event carrying a marker, writes visitor data
// in namespaces and metadata on the first visit.
func buildPerson(t *testing.T, col *collectortest.Collector, tag, userID string, browsers int, namespaces ...string) *exportPerson {
	t.Helper()
	p := &exportPerson{}
	for i := range browsers {
		b, id := signInNew(t, col, userID, fmt.Sprintf("https://shop.example/landing-%s-%d", tag, i))
		if p.identityID != "" && id != p.identityID {
			t.Fatalf("the second SignIn of %s made identity %s, not %s", userID, id, p.identityID)
		}
		p.identityID = id
		p.browsers = append(p.browsers, b)
		page := collectortest.NewID()
		entered := collectortest.Event(protocol.EventPageEntered, page, nil)
		entered.URL, entered.Title = "https://shop.example/product-"+tag, "Product "+tag
		marker := fmt.Sprintf("sku-%s-%d", tag, i)
		sendAs(t, col, b, entered, collectortest.Event("AddToCart", page, map[string]any{"sku": marker, "qty": 2}))
		p.markers = append(p.markers, marker)
	}
	for _, ns := range namespaces {
		marker := "data-" + tag + "-" + ns
		path := "/v1/identities/" + p.identityID + "/visitor-data/" + ns
		if status, b := col.Do("PATCH", path, fmt.Sprintf(`{"note":%q}`, marker),
			"Content-Type", "application/merge-patch+json"); status != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", path, status, b)
		}
		p.markers = append(p.markers, marker)
	}
	marker := "metadata-" + tag
	path := "/v1/visits/" + p.browsers[0].visitID + "/metadata"
	if status, b := col.Do("PUT", path, fmt.Sprintf(`{"ticket":%q}`, marker)); status != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", path, status, b)
	}
	p.markers = append(p.markers, marker, userID, p.identityID)
	for _, b := range p.browsers {
		p.markers = append(p.markers, b.visitorID, b.visitID)
	}
	return p
}

// exported is a subject export, read whole.
type exported struct {
	body   []byte
	lines  []map[string]any
	byType map[string][]map[string]any
}

// export reads GET path with token and checks its form: a header first,
// the completion line last, and counts that match the lines.
func export(t *testing.T, col *collectortest.Collector, token, path string) *exported {
	t.Helper()
	status, body := collectortest.Request(t, col.URL(), token, "GET", path, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	x := &exported{body: body, byType: map[string][]map[string]any{}}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %d %q: %v", len(x.lines)+1, sc.Text(), err)
		}
		x.lines = append(x.lines, m)
	}
	if len(x.lines) < 2 {
		t.Fatalf("GET %s: %d lines", path, len(x.lines))
	}
	head, end := x.lines[0], x.lines[len(x.lines)-1]
	if head["type"] != "header" || head["kind"] != "visitrack.subject-export" || head["version"] != 1.0 {
		t.Errorf("header %v", head)
	}
	if at, _ := head["generatedAt"].(string); at == "" {
		t.Errorf("header without generatedAt: %v", head)
	} else if _, err := time.Parse(time.RFC3339Nano, at); err != nil {
		t.Errorf("generatedAt %q: %v", at, err)
	}
	if !completeExport(x.lines) {
		t.Fatalf("GET %s: the last line is not the completion line: %v", path, end)
	}
	for _, l := range x.lines[1 : len(x.lines)-1] {
		typ, _ := l["type"].(string)
		if !slices.Contains(collector.SubjectRecordTypes(), typ) {
			t.Errorf("a record of type %q, not in the header's list: %v", typ, l)
		}
		delete(l, "type")
		x.byType[typ] = append(x.byType[typ], l)
	}
	counts, _ := end["counts"].(map[string]any)
	for _, typ := range collector.SubjectRecordTypes() {
		if n, ok := counts[typ].(float64); !ok || int(n) != len(x.byType[typ]) {
			t.Errorf("counts[%s] = %v, the export has %d", typ, counts[typ], len(x.byType[typ]))
		}
	}
	return x
}

// completeExport reports whether lines end with the completion line.
func completeExport(lines []map[string]any) bool {
	if len(lines) == 0 {
		return false
	}
	end := lines[len(lines)-1]
	return end["type"] == "end" && end["complete"] == true
}

// restItems decodes the items of a REST list (one page of up to 1000).
func restItems(t *testing.T, col *collectortest.Collector, path string) []map[string]any {
	t.Helper()
	var l struct {
		Items      []map[string]any
		NextCursor *string
	}
	col.Get(path, &l)
	if l.NextCursor != nil {
		t.Fatalf("GET %s has more than one page", path)
	}
	return l.Items
}

// sameItems compares records with REST items field by field, as sets
// keyed by key; fields only the export has (ip) are checked by the caller.
func sameItems(t *testing.T, what string, records, items []map[string]any, key string, extra ...string) {
	t.Helper()
	want := map[string]map[string]any{}
	for _, it := range items {
		want[it[key].(string)] = it
	}
	if len(records) != len(items) {
		t.Errorf("%s: the export has %d, the API %d", what, len(records), len(items))
	}
	for _, r := range records {
		got := map[string]any{}
		for k, v := range r {
			if !slices.Contains(extra, k) {
				got[k] = v
			}
		}
		id, _ := r[key].(string)
		if !reflect.DeepEqual(got, want[id]) {
			t.Errorf("%s %s:\nexport %v\nAPI    %v", what, id, got, want[id])
		}
	}
}

// TestSubjectExportHoldsThePerson: a person signs in with a proof from two
// browsers, visits pages, sends business events and a consent change,
// has visitor data in two namespaces, metadata on a visit, another
// identity merged in, and webhook deliveries pending at a target that is
// down. GET /v1/identities/{id}/export holds exactly what the History,
// visitor-data, metadata and merge APIs show of that person (field by
// field), the client address, the pending deliveries, no browser key, and
// nothing of a second person in the same database. After erasure the
// export is 404.
func TestSubjectExportHoldsThePerson(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--identity-secret", testSecret, "--rate-limit", "0", "--webhook-allow-private")
	tg := newTarget(t) // never up: every delivery stays pending
	if status, b := col.Do("POST", "/v1/webhooks", map[string]any{"url": tg.url(),
		"events": []string{"visitorData.changed", "business:*"}}); status != http.StatusCreated {
		t.Fatalf("register a webhook: %d %s", status, b)
	}

	pat := buildPerson(t, col, "pat", "pat@example.com", 2, "crm", "campaign")
	consent := collectortest.Event(collector.EventConsentChanged, "", map[string]any{"state": "denied", "source": "api"})
	sendAs(t, col, pat.browsers[1], consent)
	old := buildPerson(t, col, "old", "pat.old@example.com", 1, "legacy")
	if status, b := col.Do("POST", "/v1/identities/"+pat.identityID+"/merge", map[string]string{"from": old.identityID}); status != http.StatusOK {
		t.Fatalf("merge: %d %s", status, b)
	}
	robin := buildPerson(t, col, "robin", "robin@example.com", 1, "crm")

	x := export(t, col, col.AdminToken, "/v1/identities/"+pat.identityID+"/export")
	head := x.lines[0]
	if s, _ := head["subject"].(map[string]any); s["kind"] != "identity" || s["id"] != pat.identityID {
		t.Errorf("header subject %v", head["subject"])
	}

	// The identity, with its userId and the merged one's.
	var ident map[string]any
	col.Get("/v1/identities/"+pat.identityID, &ident)
	if len(x.byType["identity"]) != 1 {
		t.Fatalf("%d identity records", len(x.byType["identity"]))
	}
	rec := x.byType["identity"][0]
	if ids, _ := json.Marshal(rec["userIds"]); string(ids) != `["pat@example.com","pat.old@example.com"]` {
		t.Errorf("userIds %s", ids)
	}
	sameItems(t, "identity", x.byType["identity"], []map[string]any{ident}, "identityId", "userIds")

	// Its browsers: ids and when seen, never a key.
	var visitorIDs []string
	for _, v := range x.byType["visitor"] {
		visitorIDs = append(visitorIDs, v["visitorId"].(string))
		for k := range v {
			if !slices.Contains([]string{"visitorId", "firstSeenAt", "lastSeenAt", "linkedAt"}, k) {
				t.Errorf("visitor record with field %s: %v", k, v)
			}
		}
		if v["firstSeenAt"] == nil || v["lastSeenAt"] == nil {
			t.Errorf("visitor record without its times: %v", v)
		}
	}
	if want := ident["visitorIds"]; fmt.Sprint(visitorIDs) != fmt.Sprint(want) || len(visitorIDs) != 3 {
		t.Errorf("visitor records %v, the identity's browsers %v (two of its own, one merged in)", visitorIDs, want)
	}
	for _, b := range append(pat.browsers, old.browsers...) {
		if bytes.Contains(x.body, []byte(b.visitorKey)) {
			t.Errorf("the export holds the browser key of %s", b.visitorID)
		}
	}

	// Visits, each as GET /v1/visits/{id} shows it, with its client address;
	// then each visit's sessions, pages, links and metadata.
	visits := restItems(t, col, "/v1/identities/"+pat.identityID+"/visits?limit=1000")
	if len(visits) != 3 {
		t.Fatalf("the API lists %d visits of the person, want 3", len(visits))
	}
	var full, sessions, pages, links []map[string]any
	for _, v := range visits {
		id := v["visitId"].(string)
		var one map[string]any
		col.Get("/v1/visits/"+id, &one)
		full = append(full, one)
		sessions = append(sessions, restItems(t, col, "/v1/visits/"+id+"/sessions?limit=1000")...)
		pages = append(pages, restItems(t, col, "/v1/visits/"+id+"/pages?limit=1000")...)
		for _, l := range restItems(t, col, "/v1/visits/"+id+"/identities") {
			if l["identityId"] == pat.identityID {
				delete(l, "userId")
				l["visitId"] = id
				links = append(links, l)
			}
		}
	}
	sameItems(t, "visit", x.byType["visit"], full, "visitId", "ip")
	for _, v := range x.byType["visit"] {
		if v["ip"] != "127.0.0.1" {
			t.Errorf("visit %s: ip %v, want the client's 127.0.0.1", v["visitId"], v["ip"])
		}
	}
	sameItems(t, "session", x.byType["session"], sessions, "sessionId")
	sameItems(t, "page", x.byType["page"], pages, "pageId")
	sameItems(t, "visit link", x.byType["visitLink"], links, "visitId")

	events := restItems(t, col, "/v1/identities/"+pat.identityID+"/events?limit=1000")
	sameItems(t, "event", x.byType["event"], events, "eventId", "ip")
	business := 0
	for _, e := range events {
		if e["category"] == "business" && e["name"] != collector.EventConsentChanged {
			business++
		}
	}
	if business != 3 {
		t.Errorf("%d business events, want 3 (two browsers and the merged identity's)", business)
	}
	if cc := x.byType["consentChange"]; len(cc) != 1 || cc[0]["eventId"] != consent.EventID ||
		fmt.Sprint(cc[0]["state"]) != "map[source:api state:denied]" || cc[0]["visitId"] != pat.browsers[1].visitID {
		t.Errorf("consent changes %v, want the one of event %s", cc, consent.EventID)
	}

	var mds []map[string]any
	for _, b := range append(pat.browsers, old.browsers...) {
		var m map[string]any
		col.Get("/v1/visits/"+b.visitID+"/metadata", &m)
		if m["version"] != 0.0 {
			mds = append(mds, m) // never written: the export has no record
		}
	}
	sameItems(t, "metadata", x.byType["metadata"], mds, "visitId")

	merges := restItems(t, col, "/v1/identities/"+pat.identityID+"/merges")
	sameItems(t, "merge", x.byType["merge"], merges, "mergeId")
	if len(merges) != 1 {
		t.Errorf("%d merges", len(merges))
	}

	// Visitor data: the identity's document with every namespace, merged
	// ones included, and its browsers' own documents if they have any.
	var docs []map[string]any
	subjects := [][2]string{{"identities/" + pat.identityID, "identity:" + pat.identityID}}
	for _, v := range visitorIDs {
		subjects = append(subjects, [2]string{"visitors/" + v, "visitor:" + v})
	}
	for _, s := range subjects {
		var d map[string]any
		col.Get("/v1/"+s[0]+"/visitor-data", &d)
		if d["version"] != 0.0 {
			docs = append(docs, map[string]any{"subject": s[1], "version": d["version"], "data": d["data"]})
		}
	}
	for _, d := range x.byType["visitorData"] {
		if _, err := time.Parse(time.RFC3339Nano, fmt.Sprint(d["updatedAt"])); err != nil {
			t.Errorf("visitor data %v: updatedAt: %v", d["subject"], err)
		}
		delete(d, "updatedAt")
	}
	sameItems(t, "visitor data", x.byType["visitorData"], docs, "subject")
	if data, _ := json.Marshal(x.byType["visitorData"]); !strings.Contains(string(data), "data-pat-crm") ||
		!strings.Contains(string(data), "data-pat-campaign") || !strings.Contains(string(data), "data-old-legacy") {
		t.Errorf("visitor data %s lacks a namespace", data)
	}

	// The deliveries that name the person or announce its events, as the
	// outbox holds them.
	reader, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	var eventIDs []any
	for _, e := range events {
		eventIDs = append(eventIDs, e["eventId"])
	}
	rows, err := reader.Query(`SELECT delivery_id FROM webhook_deliveries WHERE subject IN (?, ?)
		OR event_id IN (SELECT value FROM json_each(?))`,
		"identity:"+pat.identityID, "identity:"+old.identityID, mustJSON(t, eventIDs))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		want = append(want, id)
	}
	rows.Close()
	var got []string
	for _, d := range x.byType["webhookDelivery"] {
		got = append(got, d["deliveryId"].(string))
		if d["nextAt"] == nil {
			t.Errorf("delivery %v is not pending", d)
		}
	}
	sort.Strings(want)
	sort.Strings(got)
	if len(want) < 6 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("deliveries %v, the outbox holds %v of the person (want at least 3 visitor-data and 3 business)", got, want)
	}

	// Nothing of the second person.
	for _, m := range robin.markers {
		if bytes.Contains(x.body, []byte(m)) {
			t.Errorf("the export of %s holds %q of another person", pat.identityID, m)
		}
	}
	for _, m := range append(pat.markers, old.markers...) {
		if m == old.identityID {
			continue // merged away: only the merge record names it
		}
		if !bytes.Contains(x.body, []byte(m)) {
			t.Errorf("the export lacks %q", m)
		}
	}

	// The JSON form holds the same records in one document.
	status, doc := col.Do("GET", "/v1/identities/"+pat.identityID+"/export?format=json", nil)
	var whole struct {
		Kind     string
		Records  []map[string]any
		Complete bool
		Counts   map[string]int
	}
	if err := json.Unmarshal(doc, &whole); status != http.StatusOK || err != nil {
		t.Fatalf("format=json: %d %v %.300s", status, err, doc)
	}
	if whole.Kind != "visitrack.subject-export" || !whole.Complete || len(whole.Records) != len(x.lines)-2 ||
		whole.Counts["event"] != len(x.byType["event"]) {
		t.Errorf("format=json: kind %q, complete %v, %d records (NDJSON %d), counts %v",
			whole.Kind, whole.Complete, len(whole.Records), len(x.lines)-2, whole.Counts)
	}

	// Erased, the person has nothing left to export.
	if status, b := col.Do("DELETE", "/v1/identities/"+pat.identityID, nil); status != http.StatusNoContent {
		t.Fatalf("erase: %d %s", status, b)
	}
	for _, p := range []string{"/v1/identities/" + pat.identityID + "/export", "/v1/visitors/" + pat.browsers[0].visitorID + "/export"} {
		if status, b := col.Do("GET", p, nil); status != http.StatusNotFound || !strings.Contains(string(b), `"status":404`) {
			t.Errorf("GET %s after erasure: %d %s, want a 404 problem", p, status, b)
		}
	}
	// The other person is still whole.
	export(t, col, col.AdminToken, "/v1/identities/"+robin.identityID+"/export")
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSubjectExportScopesAndUnknownIDs: the export needs subject:export
// (or admin); history:read and the visitor-data scopes are not enough. An
// unknown id is a 404 problem, a malformed one or format a 400.
func TestSubjectExportScopesAndUnknownIDs(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--rate-limit", "0")
	p := buildPerson(t, col, "scoped", "scoped@example.com", 1, "crm")
	cli, closeCLI, err := daemon.OpenStore(col.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCLI()
	token := func(scopes ...string) string {
		_, secret, err := cli.CreateToken(context.Background(), scopes)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	others := token(collector.ScopeHistoryRead, collector.ScopeHistoryDelete, collector.ScopeVisitorDataRead,
		collector.ScopeMetadataRead, collector.ScopeStatsRead, collector.ScopeVisitorDataWrite+"*")
	exporter := token(collector.ScopeSubjectExport)
	paths := []string{"/v1/identities/" + p.identityID + "/export", "/v1/visitors/" + p.browsers[0].visitorID + "/export"}
	for _, path := range paths {
		if status, b := collectortest.Request(t, col.URL(), others, "GET", path, nil); status != http.StatusForbidden ||
			!strings.Contains(string(b), "subject:export") {
			t.Errorf("GET %s without subject:export: %d %s, want 403 naming the scope", path, status, b)
		}
		if status, _ := collectortest.Request(t, col.URL(), "", "GET", path, nil); status != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, status)
		}
		export(t, col, exporter, path)
		export(t, col, col.AdminToken, path)
		if status, b := col.Do("GET", path+"?format=xml", nil); status != http.StatusBadRequest {
			t.Errorf("GET %s?format=xml: %d %s, want 400", path, status, b)
		}
	}
	for _, path := range []string{"/v1/identities/" + collectortest.NewID() + "/export", "/v1/visitors/" + collectortest.NewID() + "/export"} {
		status, b := collectortest.Request(t, col.URL(), exporter, "GET", path, nil)
		if status != http.StatusNotFound || !strings.Contains(string(b), `"status":404`) {
			t.Errorf("GET %s: %d %s, want a 404 problem", path, status, b)
		}
	}
	if status, _ := col.Do("GET", "/v1/identities/not-an-id/export", nil); status != http.StatusBadRequest {
		t.Errorf("a malformed id: %d, want 400", status)
	}
}

// TestVisitorExportIsAnonymousHistory: a browser's export holds its
// visits and their anonymous events, and nothing filed under the
// identity that signed in on it: a browser id proves no person.
func TestVisitorExportIsAnonymousHistory(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--rate-limit", "0")
	p := buildPerson(t, col, "signed", "signed@example.com", 1, "crm")
	b := p.browsers[0]
	// Signed out, the same browser goes on anonymously.
	out := collectortest.Event(protocol.EventSignOut, "", nil)
	after := collectortest.Event("Browse", "", map[string]string{"q": "anonymous-after-signout"})
	sendAs(t, col, b, out, after)

	x := export(t, col, col.AdminToken, "/v1/visitors/"+b.visitorID+"/export")
	if len(x.byType["visitor"]) != 1 || x.byType["visitor"][0]["visitorId"] != b.visitorID {
		t.Errorf("visitor records %v", x.byType["visitor"])
	}
	for _, typ := range []string{"identity", "merge", "visitLink"} {
		if len(x.byType[typ]) != 0 {
			t.Errorf("a visitor's export has %s records: %v", typ, x.byType[typ])
		}
	}
	for _, m := range []string{p.identityID, "signed@example.com", "sku-signed-0", "data-signed-crm"} {
		if bytes.Contains(x.body, []byte(m)) {
			t.Errorf("the browser's export holds %q of the identity", m)
		}
	}
	var ids []string
	for _, e := range x.byType["event"] {
		if e["identityId"] != nil {
			t.Errorf("event filed under an identity: %v", e)
		}
		ids = append(ids, e["eventId"].(string))
	}
	if !slices.Contains(ids, after.EventID) {
		t.Errorf("the anonymous event %s after SignOut is not in the browser's export %v", after.EventID, ids)
	}
	if len(x.byType["visit"]) != 1 || x.byType["visit"][0]["identityId"] != nil {
		t.Errorf("visits %v: want the one visit, without the identity's id", x.byType["visit"])
	}
}

// TestSubjectExportCutOffIsVisible: a client that gets only part of an
// export (here: reads half of it and hangs up) finds no completion line
// in what it has, so it cannot take it for the whole.
func TestSubjectExportCutOffIsVisible(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--rate-limit", "0")
	p := buildPerson(t, col, "half", "half@example.com", 2, "crm", "campaign")
	req, _ := http.NewRequest("GET", col.URL()+"/v1/identities/"+p.identityID+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+col.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("export: %d %v", res.StatusCode, err)
	}
	var lines []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(whole[:len(whole)/2]), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			lines = append(lines, m)
		}
	}
	if len(lines) < 2 || lines[0]["type"] != "header" {
		t.Fatalf("half the export: %d lines", len(lines))
	}
	if completeExport(lines) {
		t.Errorf("half of the export ends with a completion line")
	}
}
