package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// page is a list answer with its items left raw.
type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor *string          `json:"nextCursor"`
}

// ids returns the field key of every item.
func (p page) ids(key string) []string {
	var out []string
	for _, it := range p.Items {
		s, _ := it[key].(string)
		out = append(out, s)
	}
	return out
}

// list gets a one-page list and returns the values of key.
func (e *env) list(t *testing.T, path, key string) []string {
	t.Helper()
	var p page
	e.get(path).ok(t, &p)
	if p.NextCursor != nil {
		t.Fatalf("%s: nextCursor %q on what should be the only page", path, *p.NextCursor)
	}
	return p.ids(key)
}

func TestListVisits(t *testing.T) {
	e := newEnv(t)
	f := e.f
	for path, want := range map[string][]string{
		"/v1/visits":                                                               {f.V5, f.V3, f.V2, f.V4, f.V1},
		"/v1/visits?identityId=" + f.Alice:                                         {f.V3, f.V2, f.V1},
		"/v1/visits?identityId=" + strings.ToLower(f.Bob):                          {f.V5},
		"/v1/visits?visitorId=" + f.VisitorB:                                       {f.V4},
		"/v1/visits?state=recognized":                                              {f.V5, f.V3},
		"/v1/visits?since=2026-11-20T11:00:00Z":                                    {f.V5, f.V3, f.V2},
		"/v1/visits?until=2026-11-20T11:00:00Z":                                    {f.V4, f.V1},
		"/v1/visits?since=2026-11-20T10:30:00.000Z&until=2026-11-20T12:00:00.001Z": {f.V3, f.V2, f.V4},
		"/v1/visits?since=2026-11-20T12:00:00%2B02:00":                             {f.V5, f.V3, f.V2, f.V4, f.V1},
		"/v1/visits?identityId=" + f.Alice + "&state=authenticated":                {f.V2},
		"/v1/visits?visitorId=" + storetest.ID(1, 99):                              nil,
	} {
		if got := e.list(t, path, "visitId"); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
}

func TestGetVisit(t *testing.T) {
	e := newEnv(t)
	var v map[string]any
	e.get("/v1/visits/"+e.f.V1).ok(t, &v)
	want := map[string]any{
		"visitId": e.f.V1, "visitorId": e.f.VisitorA, "identityId": nil, "sessionId": e.f.S1,
		"state": "anonymous", "verified": false, "startedAt": "2026-11-20T10:00:00Z",
		"lastSeenAt": "2026-11-20T10:03:00Z", "endedAt": "2026-11-20T10:33:00Z",
		"landingUrl": "https://shop.example/", "referrer": "https://search.example/", "userAgent": "UA-1",
		"pageCount": float64(2), "eventCount": float64(3),
		// Seeded without enrichment: the defaults of an unclassified visit.
		"browser": "", "browserVersion": "", "os": "", "deviceType": "", "bot": false, "referrerType": "",
		"utm": map[string]any{}, "clickIds": map[string]any{}, "reached": "anonymous", "wasVerified": false, "cookieless": false,
	}
	if !equalJSON(v, want) {
		t.Errorf("visit\n got %v\nwant %v", v, want)
	}
	e.get("/v1/visits/"+storetest.ID(2, 99)).problem(t, http.StatusNotFound, collector.ENOTFOUND)
	e.get("/v1/visits/not-a-ulid").problem(t, http.StatusBadRequest, collector.EINVALID)
	e.get("/v1/visits/"+e.f.V1+"?limit=5").problem(t, http.StatusBadRequest, collector.EINVALID)
}

func TestVisitSubresources(t *testing.T) {
	e := newEnv(t)
	f := e.f
	if got := e.list(t, "/v1/visits/"+f.V1+"/pages", "pageId"); !slices.Equal(got, []string{f.P1, f.P2}) {
		t.Errorf("pages %v", got)
	}
	if got := e.list(t, "/v1/visits/"+f.V3+"/pages", "pageId"); len(got) != 0 {
		t.Errorf("pages of V3 %v", got)
	}
	if got := e.list(t, "/v1/visits/"+f.V2+"/events", "eventId"); !slices.Equal(got, []string{f.E4, f.E5, f.E6}) {
		t.Errorf("events %v", got)
	}
	if got := e.list(t, "/v1/visits/"+f.V2+"/events?category=business", "eventId"); !slices.Equal(got, []string{f.E6}) {
		t.Errorf("business events %v", got)
	}
	if got := e.list(t, "/v1/visits/"+f.V2+"/events?name=SignIn&since=2026-11-20T11:00:00Z&until=2026-11-20T12:00:00Z", "eventId"); !slices.Equal(got, []string{f.E5}) {
		t.Errorf("SignIn events %v", got)
	}
	if got := e.list(t, "/v1/visits/"+f.V2+"/events?name=Nothing", "eventId"); len(got) != 0 {
		t.Errorf("no events %v", got)
	}
	if got := e.list(t, "/v1/visits/"+f.V2+"/sessions", "sessionId"); !slices.Equal(got, []string{f.S2a, f.S2b}) {
		t.Errorf("sessions %v", got)
	}
	var links page
	e.get("/v1/visits/"+f.V1+"/identities").ok(t, &links)
	if len(links.Items) != 1 || links.Items[0]["identityId"] != f.Alice || links.Items[0]["how"] != "stitched" ||
		links.Items[0]["userId"] != f.AliceUser || links.Items[0]["verified"] != true || links.NextCursor != nil {
		t.Errorf("identities of V1 %+v", links)
	}
	if got := e.list(t, "/v1/visits/"+f.V4+"/identities", "identityId"); len(got) != 0 {
		t.Errorf("identities of V4 %v", got)
	}

	unknown := storetest.ID(2, 99)
	for _, sub := range []string{"pages", "events", "sessions", "identities"} {
		e.get("/v1/visits/"+unknown+"/"+sub).problem(t, http.StatusNotFound, collector.ENOTFOUND)
		e.get("/v1/visits/x/"+sub).problem(t, http.StatusBadRequest, collector.EINVALID)
	}
	e.get("/v1/visits/"+f.V1+"/events?visitId="+f.V2).problem(t, http.StatusBadRequest, collector.EINVALID)
	e.get("/v1/visits/"+f.V1+"/identities?limit=1").problem(t, http.StatusBadRequest, collector.EINVALID)

	var p map[string]any
	e.get("/v1/pages/"+f.P1).ok(t, &p)
	want := map[string]any{"pageId": f.P1, "visitId": f.V1, "url": "https://shop.example/", "title": "Shop",
		"referrer": "https://search.example/", "enteredAt": "2026-11-20T10:00:00Z", "exitedAt": "2026-11-20T10:02:00Z",
		"durationMs": float64(120000)}
	if !equalJSON(p, want) {
		t.Errorf("page\n got %v\nwant %v", p, want)
	}
	e.get("/v1/pages/"+storetest.ID(4, 99)).problem(t, http.StatusNotFound, collector.ENOTFOUND)
}

func TestListEvents(t *testing.T) {
	e := newEnv(t)
	f := e.f
	for path, want := range map[string][]string{
		"/v1/events":                       {f.E1, f.E2, f.E3, f.E8, f.E4, f.E5, f.E6, f.E7, f.E9},
		"/v1/events?visitId=" + f.V1:       {f.E1, f.E2, f.E3},
		"/v1/events?identityId=" + f.Alice: {f.E1, f.E2, f.E3, f.E4, f.E5, f.E6, f.E7},
		"/v1/events?identityId=" + f.Alice + "&category=business": {f.E3, f.E6},
		"/v1/events?name=PageEntered":                             {f.E2, f.E8, f.E4},
		"/v1/events?category=system&since=2026-11-20T12:00:00Z":   {f.E7, f.E9},
		"/v1/events?until=2026-11-20T10:00:00.001Z":               {f.E1},
		"/v1/events?identityId=" + storetest.ID(6, 99):            nil,
		"/v1/identities/" + f.Alice + "/events":                   {f.E1, f.E2, f.E3, f.E4, f.E5, f.E6, f.E7},
		"/v1/identities/" + f.Alice + "/events?name=Purchase&category=business&since=2026-11-20T11:00:00Z&until=2026-11-20T12:00:00Z": {f.E6},
		"/v1/identities/" + f.Bob + "/events?category=business":                                                                       nil,
	} {
		if got := e.list(t, path, "eventId"); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	e.get("/v1/identities/"+storetest.ID(6, 99)+"/events").problem(t, http.StatusNotFound, collector.ENOTFOUND)
	e.get("/v1/identities/"+f.Alice+"/events?identityId="+f.Bob).problem(t, http.StatusBadRequest, collector.EINVALID)
}

func TestIdentities(t *testing.T) {
	e := newEnv(t)
	f := e.f
	if got := e.list(t, "/v1/identities", "identityId"); !slices.Equal(got, []string{f.Alice, f.Bob}) {
		t.Errorf("identities %v", got)
	}
	if got := e.list(t, "/v1/identities?userId="+url.QueryEscape(f.AliceUser), "identityId"); !slices.Equal(got, []string{f.Alice}) {
		t.Errorf("by userId %v", got)
	}
	if got := e.list(t, "/v1/identities?userId=nobody", "identityId"); len(got) != 0 {
		t.Errorf("unknown userId %v", got)
	}

	var i map[string]any
	e.get("/v1/identities/"+f.Alice).ok(t, &i)
	want := map[string]any{"identityId": f.Alice, "userId": f.AliceUser, "attributes": map[string]any{"plan": "gold"},
		"firstSeenAt": "2026-11-20T11:00:00Z", "lastSeenAt": "2026-11-20T12:00:00Z", "visitorIds": []any{f.VisitorA},
		"firstTouch": nil, "lastTouch": nil} // seeded without ingest: no touch
	if !equalJSON(i, want) {
		t.Errorf("identity\n got %v\nwant %v", i, want)
	}
	e.get("/v1/identities/"+storetest.ID(6, 99)).problem(t, http.StatusNotFound, collector.ENOTFOUND)

	if got := e.list(t, "/v1/identities/"+f.Alice+"/visits", "visitId"); !slices.Equal(got, []string{f.V3, f.V2, f.V1}) {
		t.Errorf("Alice's visits %v", got)
	}
	e.get("/v1/identities/"+storetest.ID(6, 99)+"/visits").problem(t, http.StatusNotFound, collector.ENOTFOUND)
}

// TestPagination walks every paged list with small limits, following
// nextCursor until it is null.
func TestPagination(t *testing.T) {
	e := newEnv(t)
	f := e.f
	for path, want := range map[string][]string{
		"/v1/visits?":                            {f.V5, f.V3, f.V2, f.V4, f.V1},
		"/v1/events?":                            {f.E1, f.E2, f.E3, f.E8, f.E4, f.E5, f.E6, f.E7, f.E9},
		"/v1/identities/" + f.Alice + "/events?": {f.E1, f.E2, f.E3, f.E4, f.E5, f.E6, f.E7},
		"/v1/identities/" + f.Alice + "/visits?": {f.V3, f.V2, f.V1},
		"/v1/visits/" + f.V1 + "/pages?":         {f.P1, f.P2},
		"/v1/visits/" + f.V2 + "/sessions?":      {f.S2a, f.S2b},
		"/v1/identities?":                        {f.Alice, f.Bob},
		"/v1/visits?identityId=" + f.Alice + "&": {f.V3, f.V2, f.V1},
	} {
		key := map[string]string{"visits": "visitId", "events": "eventId", "pages": "pageId", "sessions": "sessionId", "identities": "identityId"}
		seg := strings.Split(strings.Split(path, "?")[0], "/")
		k := key[seg[len(seg)-1]]
		for _, limit := range []string{"1", "2", "4"} {
			var got []string
			next := ""
			for n := 0; ; n++ {
				if n > len(want) {
					t.Fatalf("%s limit %s: more pages than items", path, limit)
				}
				p := path + "limit=" + limit
				if next != "" {
					p += "&cursor=" + url.QueryEscape(next)
				}
				var pg page
				e.get(p).ok(t, &pg)
				got = append(got, pg.ids(k)...)
				if pg.NextCursor == nil {
					break
				}
				next = *pg.NextCursor
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s limit %s: %v, want %v", path, limit, got, want)
			}
		}
	}

	// nextCursor is present and null on the last page.
	r := e.get("/v1/visits?limit=5")
	if !strings.Contains(string(r.body), `"nextCursor":null`) {
		t.Errorf("last page: %s", r.body)
	}
	r = e.get("/v1/visits/" + f.V3 + "/pages")
	if !strings.Contains(string(r.body), `{"items":[],"nextCursor":null}`) {
		t.Errorf("empty list: %s", r.body)
	}
}

func TestBadParameters(t *testing.T) {
	e := newEnv(t)
	var pg page
	e.get("/v1/events?limit=1").ok(t, &pg)
	eventsCursor := *pg.NextCursor
	for path, want := range map[string]string{
		"/v1/visits?limit=0":                   "limit",
		"/v1/visits?limit=1001":                "limit",
		"/v1/visits?limit=-3":                  "limit",
		"/v1/visits?limit=ten":                 "limit",
		"/v1/visits?cursor=":                   "cursor",
		"/v1/visits?cursor=%21%21":             "cursor",
		"/v1/visits?cursor=" + eventsCursor:    "cursor",
		"/v1/visits?since=yesterday":           "since",
		"/v1/visits?until=2026-11-20":          "until",
		"/v1/visits?since=2026-11-20T10:00:00": "since",
		"/v1/visits?since=2026-11-21T00:00:00Z&until=2026-11-20T00:00:00Z": "since",
		"/v1/visits?state=asleep":                         "state",
		"/v1/visits?visitorId=abc":                        "visitorId",
		"/v1/visits?identityid=" + e.f.Alice:              "identityid",
		"/v1/visits?state=recognized&state=anonymous":     "state",
		"/v1/events?category=marketing":                   "category",
		"/v1/events?visitId=123":                          "visitId",
		"/v1/events?until=soon":                           "until",
		"/v1/identities?limit=5000":                       "limit",
		"/v1/identities/" + e.f.Alice + "/visits?limit=0": "limit",
		"/v1/visits/" + e.f.V1 + "/pages?cursor=abc":      "cursor",
	} {
		detail := e.get(path).problem(t, http.StatusBadRequest, collector.EINVALID)
		if !strings.Contains(detail, want) {
			t.Errorf("%s: detail %q does not name %s", path, detail, want)
		}
	}
	if n := limitFromDefault(t, e); n != collector.DefaultLimit {
		t.Errorf("default limit %d", n)
	}
}

// limitFromDefault seeds more visits than the default page and counts
// the first page.
func limitFromDefault(t *testing.T, e *env) int {
	for i := range 60 {
		storetest.InsertVisit(t, e.s, &collector.Visit{VisitID: storetest.ID(8, i), VisitorID: e.f.VisitorB,
			SessionID: storetest.ID(9, i), StartedAt: e.f.T0.Add(-time.Duration(i+1) * time.Minute), LastSeenAt: e.f.T0})
	}
	var pg page
	e.get("/v1/visits").ok(t, &pg)
	if pg.NextCursor == nil {
		t.Error("a first page of 65 visits has no nextCursor")
	}
	return len(pg.Items)
}

func TestErasure(t *testing.T) {
	e := newEnv(t)
	f := e.f
	r := e.do("DELETE", "/v1/identities/"+f.Alice, e.del)
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("DELETE identity: %d %s", r.status, r.body)
	}
	for _, p := range []string{"/v1/identities/" + f.Alice, "/v1/visits/" + f.V1, "/v1/visits/" + f.V2,
		"/v1/visits/" + f.V3, "/v1/pages/" + f.P1, "/v1/identities/" + f.Alice + "/visits", "/v1/identities/" + f.Alice + "/events"} {
		e.get(p).problem(t, http.StatusNotFound, collector.ENOTFOUND)
	}
	if got := e.list(t, "/v1/visits?identityId="+f.Alice, "visitId"); len(got) != 0 {
		t.Errorf("visits left %v", got)
	}
	if got := e.list(t, "/v1/events?identityId="+f.Alice, "eventId"); len(got) != 0 {
		t.Errorf("events left %v", got)
	}
	if got := e.list(t, "/v1/identities?userId="+url.QueryEscape(f.AliceUser), "identityId"); len(got) != 0 {
		t.Errorf("identity left %v", got)
	}
	for _, table := range storetest.Tables() {
		for _, col := range []string{"identity_id", "visitor_id"} {
			var n int
			err := e.s.DB().QueryRow("SELECT count(*) FROM "+table+" WHERE "+col+" IN (?, ?)", f.Alice, f.VisitorA).Scan(&n)
			if err != nil && strings.Contains(err.Error(), "no such column") {
				continue
			}
			if err != nil || n != 0 {
				t.Errorf("%s.%s: %d rows of Alice left (%v)", table, col, n, err)
			}
		}
	}
	if n := storetest.Count(t, e.s, "visitor_data", "subject IN (?, ?)", "identity:"+f.Alice, "visitor:"+f.VisitorA); n != 0 {
		t.Errorf("%d visitor-data documents left", n)
	}
	e.do("DELETE", "/v1/identities/"+f.Alice, e.del).problem(t, http.StatusNotFound, collector.ENOTFOUND)
	// Others are untouched.
	if got := e.list(t, "/v1/visits", "visitId"); !slices.Equal(got, []string{f.V5, f.V4}) {
		t.Errorf("visits left %v", got)
	}

	r = e.do("DELETE", "/v1/visitors/"+f.VisitorB, e.admin)
	if r.status != http.StatusNoContent {
		t.Fatalf("DELETE visitor: %d %s", r.status, r.body)
	}
	e.get("/v1/visits/"+f.V4).problem(t, http.StatusNotFound, collector.ENOTFOUND)
	if n := storetest.Count(t, e.s, "events", "visitor_id = ?", f.VisitorB); n != 0 {
		t.Errorf("%d events of the visitor left", n)
	}
	e.do("DELETE", "/v1/visitors/"+f.VisitorB, e.admin).problem(t, http.StatusNotFound, collector.ENOTFOUND)
	e.do("DELETE", "/v1/visitors/nope", e.admin).problem(t, http.StatusBadRequest, collector.EINVALID)
	if log := e.log.String(); !strings.Contains(log, "erased identity") || !strings.Contains(log, "erased visitor") {
		t.Errorf("erasures are not logged: %s", log)
	}
}

// visitFields are a visit's JSON fields (botReason, country, region and
// city are left out when empty).
var visitFields = []string{"visitId", "visitorId", "identityId", "sessionId", "state", "verified", "startedAt",
	"lastSeenAt", "endedAt", "landingUrl", "referrer", "userAgent", "pageCount", "eventCount",
	"browser", "browserVersion", "os", "deviceType", "bot", "referrerType", "utm", "clickIds", "reached", "wasVerified", "cookieless"}

// TestWireNames pins the JSON field names of every resource: the wire
// protocol's names, times as RFC 3339 UTC.
func TestWireNames(t *testing.T) {
	e := newEnv(t)
	f := e.f
	for path, fields := range map[string][]string{
		"/v1/visits/" + f.V2:        visitFields,
		"/v1/pages/" + f.P1:         {"pageId", "visitId", "url", "title", "referrer", "enteredAt", "exitedAt", "durationMs"},
		"/v1/identities/" + f.Alice: {"identityId", "userId", "attributes", "firstSeenAt", "lastSeenAt", "visitorIds", "firstTouch", "lastTouch"},
	} {
		var m map[string]any
		e.get(path).ok(t, &m)
		checkFields(t, path, m, fields)
	}
	for path, fields := range map[string][]string{
		"/v1/events?name=Purchase": {"eventId", "visitId", "visitorId", "sessionId", "identityId", "pageId", "name",
			"category", "timestamp", "correctedAt", "receivedAt", "url", "data"},
		"/v1/visits/" + f.V2 + "/sessions?limit=1": {"sessionId", "visitId", "identityId", "state", "verified", "startedAt", "endedAt"},
		"/v1/visits/" + f.V2 + "/identities":       {"identityId", "userId", "how", "verified", "linkedAt"},
		"/v1/visits?limit=1":                       visitFields,
	} {
		var raw map[string]json.RawMessage
		e.get(path).ok(t, &raw)
		if keys := slices.Sorted(func(yield func(string) bool) {
			for k := range raw {
				if !yield(k) {
					return
				}
			}
		}); !slices.Equal(keys, []string{"items", "nextCursor"}) {
			t.Errorf("%s: list fields %v", path, keys)
		}
		var pg page
		e.get(path).ok(t, &pg)
		if len(pg.Items) == 0 {
			t.Fatalf("%s: no items", path)
		}
		checkFields(t, path, pg.Items[0], fields)
	}
	var ev page
	e.get("/v1/events?name=Purchase").ok(t, &ev)
	if d, _ := ev.Items[0]["data"].(map[string]any); d["total"] != float64(42) {
		t.Errorf("event data %v", ev.Items[0]["data"])
	}
}

// checkFields asserts m has exactly fields, and that every *At field is
// an RFC 3339 UTC time or null.
func checkFields(t *testing.T, what string, m map[string]any, fields []string) {
	t.Helper()
	want := slices.Clone(fields)
	slices.Sort(want)
	if got := sortedKeys(m); !slices.Equal(got, want) {
		t.Errorf("%s: fields %v, want %v", what, got, want)
	}
	for k, v := range m {
		if !strings.HasSuffix(k, "At") && k != "timestamp" {
			continue
		}
		if v == nil {
			continue
		}
		s, _ := v.(string)
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !strings.HasSuffix(s, "Z") || ts.Location() != time.UTC {
			t.Errorf("%s: %s = %v is not RFC 3339 UTC", what, k, v)
		}
	}
}

// equalJSON compares decoded JSON values.
func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
