package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

func pageIDs(ps []*collector.Page) []string {
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.PageID)
	}
	return ids
}

// urlRig adds pages (and one event on each) to the fixture's visit V2
// whose urls trip naive prefix matching: LIKE's wildcards % and _, ASCII
// case, and characters beyond ASCII.
type urlRig struct {
	*storetest.Fixture
	Under, UnderX, Pct, PctX, Upper, Umlaut string // page ids, also the event ids with 10 added to the kind
}

func seedURLs(t *testing.T, s *store.Store) *urlRig {
	f := storetest.Seed(t, s)
	r := &urlRig{Fixture: f, Under: storetest.ID(4, 11), UnderX: storetest.ID(4, 12), Pct: storetest.ID(4, 13),
		PctX: storetest.ID(4, 14), Upper: storetest.ID(4, 15), Umlaut: storetest.ID(4, 16)}
	for i, p := range []struct{ id, url, title string }{
		{r.Under, "https://shop.example/a_b/1", "Under"},
		{r.UnderX, "https://shop.example/aXb/1", "Under"},
		{r.Pct, "https://shop.example/50%off", "Sale"},
		{r.PctX, "https://shop.example/50 off", "Sale"},
		{r.Upper, "https://SHOP.example/a_b/1", "Loud"},
		{r.Umlaut, "https://shop.example/über", "Über"},
	} {
		at := f.T0.Add(time.Hour + time.Duration(i+1)*time.Second)
		storetest.InsertPage(t, s, &collector.Page{PageID: p.id, VisitID: f.V2, URL: p.url, Title: p.title, EnteredAt: at})
		storetest.InsertEvent(t, s, &collector.Event{EventID: eventOf(p.id), VisitID: f.V2, VisitorID: f.VisitorA,
			SessionID: f.S2a, PageID: p.id, Name: "PageEntered", Category: "system", Timestamp: at, CorrectedAt: at,
			ReceivedAt: at, URL: p.url, Data: json.RawMessage(`{}`)})
	}
	return r
}

// eventOf is the id of the event seedURLs stores on a page.
func eventOf(pageID string) string { return pageID[:4] + "15" + pageID[6:] }

func TestListPagesFilters(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	r := seedURLs(t, s)
	all := []string{r.Under, r.UnderX, r.Pct, r.PctX, r.Upper, r.Umlaut}
	for _, tc := range []struct {
		name string
		f    collector.PageFilter
		want []string
	}{
		{"visit", collector.PageFilter{VisitID: r.V1}, []string{r.P1, r.P2}},
		{"identity: its stitched visit and its own", collector.PageFilter{IdentityID: r.Alice}, append([]string{r.P1, r.P2, r.P3}, all...)},
		{"identity without pages", collector.PageFilter{IdentityID: r.Bob}, nil},
		{"exact url", collector.PageFilter{VisitID: r.V2, URL: "https://shop.example/a_b/1"}, []string{r.Under}},
		{"prefix with _", collector.PageFilter{VisitID: r.V2, URLPrefix: "https://shop.example/a_b"}, []string{r.Under}},
		{"prefix with %", collector.PageFilter{VisitID: r.V2, URLPrefix: "https://shop.example/50%"}, []string{r.Pct}},
		{"prefix is case-sensitive", collector.PageFilter{VisitID: r.V2, URLPrefix: "https://SHOP."}, []string{r.Upper}},
		{"prefix beyond ASCII", collector.PageFilter{VisitID: r.V2, URLPrefix: "https://shop.example/ü"}, []string{r.Umlaut}},
		{"prefix of all, on an identity", collector.PageFilter{IdentityID: r.Alice, URLPrefix: "https://shop.example/"},
			[]string{r.P1, r.P2, r.P3, r.Under, r.UnderX, r.Pct, r.PctX, r.Umlaut}},
		{"whole url as prefix", collector.PageFilter{VisitID: r.V1, URLPrefix: "https://shop.example/cart"}, []string{r.P2}},
		{"title", collector.PageFilter{IdentityID: r.Alice, Title: "Sale"}, []string{r.Pct, r.PctX}},
		{"title and prefix", collector.PageFilter{VisitID: r.V2, Title: "Under", URLPrefix: "https://shop.example/aX"}, []string{r.UnderX}},
		{"no match", collector.PageFilter{VisitID: r.V2, URL: "https://shop.example/a_b"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.ListPages(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pageIDs(got), tc.want) || next != "" {
				t.Errorf("got %v next %q, want %v", pageIDs(got), next, tc.want)
			}
		})
	}

	// Paging through an identity's pages; its cursor is not a visit's.
	var got []string
	cursor := ""
	for range 20 {
		ps, next, err := s.ListPages(ctx, collector.PageFilter{IdentityID: r.Alice, ListOptions: collector.ListOptions{Limit: 2, Cursor: cursor}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, pageIDs(ps)...)
		if next == "" {
			break
		}
		if _, _, err := s.ListPages(ctx, collector.PageFilter{VisitID: r.V2, ListOptions: collector.ListOptions{Cursor: next}}); collector.ErrorCode(err) != collector.EINVALID {
			t.Errorf("identity cursor on a visit's pages: %v, want EINVALID", err)
		}
		cursor = next
	}
	if want := append([]string{r.P1, r.P2, r.P3}, all...); !slices.Equal(got, want) {
		t.Errorf("paged: %v, want %v", got, want)
	}

	_, _, err := s.ListPages(ctx, collector.PageFilter{IdentityID: storetest.ID(6, 99)})
	wantCode(t, err, collector.ENOTFOUND)
	_, _, err = s.ListPages(ctx, collector.PageFilter{VisitID: storetest.ID(2, 99), URL: "x"})
	wantCode(t, err, collector.ENOTFOUND)
	_, _, err = s.ListPages(ctx, collector.PageFilter{})
	wantCode(t, err, collector.EINVALID)
	_, _, err = s.ListPages(ctx, collector.PageFilter{VisitID: r.V1, IdentityID: r.Alice})
	wantCode(t, err, collector.EINVALID)
}

func TestFindEventsByURLAndPage(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	r := seedURLs(t, s)
	for _, tc := range []struct {
		name string
		f    collector.EventFilter
		want []string
	}{
		{"exact url", collector.EventFilter{URL: "https://shop.example/50%off"}, []string{eventOf(r.Pct)}},
		{"prefix with _", collector.EventFilter{URLPrefix: "https://shop.example/a_"}, []string{eventOf(r.Under)}},
		{"prefix with %, in a visit", collector.EventFilter{VisitID: r.V2, URLPrefix: "https://shop.example/50%"}, []string{eventOf(r.Pct)}},
		{"prefix on an identity", collector.EventFilter{IdentityID: r.Alice, URLPrefix: "https://shop.example/ü"}, []string{eventOf(r.Umlaut)}},
		{"case-sensitive", collector.EventFilter{URLPrefix: "https://SHOP"}, []string{eventOf(r.Upper)}},
		{"page", collector.EventFilter{PageID: r.P1}, []string{r.E1, r.E2}},
		{"page and name", collector.EventFilter{PageID: r.P3, Name: "Purchase"}, []string{r.E6}},
		{"page of another visit", collector.EventFilter{PageID: r.P1, VisitID: r.V2}, nil},
		{"unknown page", collector.EventFilter{PageID: storetest.ID(4, 99)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := s.FindEvents(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(eventIDs(got), tc.want) {
				t.Errorf("got %v, want %v", eventIDs(got), tc.want)
			}
		})
	}
}
