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

// The History additions through the REST API, on the fixture plus two
// pages of visit V2 whose urls hold LIKE's wildcards.
func TestPagesAndURLFilters(t *testing.T) {
	e := newEnv(t)
	f := e.f
	under, underX := storetest.ID(4, 11), storetest.ID(4, 12)
	for i, p := range []struct{ id, url string }{{under, "https://shop.example/a_b?q=1"}, {underX, "https://shop.example/aXb?q=1"}} {
		at := f.T0.Add(time.Hour + time.Duration(i+1)*time.Second)
		storetest.InsertPage(t, e.s, &collector.Page{PageID: p.id, VisitID: f.V2, URL: p.url, Title: "Deals", EnteredAt: at})
		storetest.InsertEvent(t, e.s, &collector.Event{EventID: storetest.ID(5, 11+i), VisitID: f.V2, VisitorID: f.VisitorA,
			SessionID: f.S2a, PageID: p.id, Name: "PageEntered", Category: "system", Timestamp: at, CorrectedAt: at,
			ReceivedAt: at, URL: p.url, Data: json.RawMessage(`{}`)})
	}
	esc := url.QueryEscape
	for path, want := range map[string][]string{
		"/v1/identities/" + f.Alice + "/pages":                                             {f.P1, f.P2, f.P3, under, underX},
		"/v1/identities/" + strings.ToLower(f.Alice) + "/pages?title=Deals":                {under, underX},
		"/v1/identities/" + f.Bob + "/pages":                                               nil,
		"/v1/identities/" + f.Alice + "/pages?urlPrefix=" + esc("https://shop.example/a_"): {under},
		"/v1/identities/" + f.Alice + "/pages?url=" + esc("https://shop.example/cart"):     {f.P2},
		"/v1/visits/" + f.V2 + "/pages?urlPrefix=" + esc("https://shop.example/a"):         {under, underX},
		"/v1/visits/" + f.V2 + "/pages?urlPrefix=" + esc("https://shop.example/a_b?q=1"):   {under},
		"/v1/visits/" + f.V1 + "/pages?title=Cart":                                         {f.P2},
	} {
		if got := e.list(t, path, "pageId"); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	for path, want := range map[string][]string{
		"/v1/pages/" + f.P1 + "/events":                                                    {f.E1, f.E2},
		"/v1/pages/" + f.P3 + "/events?category=business":                                  {f.E6},
		"/v1/pages/" + under + "/events":                                                   {storetest.ID(5, 11)},
		"/v1/events?urlPrefix=" + esc("https://shop.example/a_"):                           {storetest.ID(5, 11)},
		"/v1/events?url=" + esc("https://shop.example/aXb?q=1"):                            {storetest.ID(5, 12)},
		"/v1/visits/" + f.V2 + "/events?urlPrefix=" + esc("https://shop.example/a"):        {storetest.ID(5, 11), storetest.ID(5, 12)},
		"/v1/identities/" + f.Alice + "/events?url=" + esc("https://shop.example/a_b?q=1"): {storetest.ID(5, 11)},
		"/v1/pages/" + f.P2 + "/events?url=" + esc("https://shop.example/nowhere"):         nil,
	} {
		if got := e.list(t, path, "eventId"); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}

	for path, want := range map[string]struct {
		status int
		code   string
		detail string
	}{
		"/v1/pages/" + storetest.ID(4, 99) + "/events":          {http.StatusNotFound, collector.ENOTFOUND, "page"},
		"/v1/identities/" + storetest.ID(6, 99) + "/pages":      {http.StatusNotFound, collector.ENOTFOUND, "identity"},
		"/v1/identities/nope/pages":                             {http.StatusBadRequest, collector.EINVALID, "ULID"},
		"/v1/events?url=":                                       {http.StatusBadRequest, collector.EINVALID, "url must be"},
		"/v1/events?urlPrefix=" + strings.Repeat("x", 4097):     {http.StatusBadRequest, collector.EINVALID, "urlPrefix must be"},
		"/v1/visits/" + f.V1 + "/pages?title=":                  {http.StatusBadRequest, collector.EINVALID, "title must be"},
		"/v1/visits/" + f.V1 + "/pages?name=x":                  {http.StatusBadRequest, collector.EINVALID, "unknown query parameter"},
		"/v1/pages/" + f.P1 + "/events?visitId=" + f.V1:         {http.StatusBadRequest, collector.EINVALID, "unknown query parameter"},
		"/v1/identities/" + f.Alice + "/pages?cursor=" + "abc!": {http.StatusBadRequest, collector.EINVALID, "cursor"},
	} {
		if d := e.get(path).problem(t, want.status, want.code); !strings.Contains(d, want.detail) {
			t.Errorf("%s: detail %q, want %q in it", path, d, want.detail)
		}
	}
	if r := e.do("GET", "/v1/identities/"+f.Alice+"/pages", e.other); r.status != http.StatusForbidden {
		t.Errorf("without history:read: %d", r.status)
	}
}
