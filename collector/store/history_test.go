package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

func visitIDs(vs []*collector.Visit) []string {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.VisitID)
	}
	return ids
}

func eventIDs(es []*collector.Event) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.EventID)
	}
	return ids
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := collector.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestFindVisitsFilters(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	h := func(d time.Duration) time.Time { return f.T0.Add(d) }

	for _, tc := range []struct {
		name   string
		filter collector.VisitFilter
		want   []string
	}{
		{"all, newest first", collector.VisitFilter{}, []string{f.V5, f.V3, f.V2, f.V4, f.V1}},
		{"identity incl. stitched", collector.VisitFilter{IdentityID: f.Alice}, []string{f.V3, f.V2, f.V1}},
		{"identity by claim", collector.VisitFilter{IdentityID: f.Bob}, []string{f.V5}},
		{"unknown identity", collector.VisitFilter{IdentityID: storetest.ID(6, 99)}, nil},
		{"visitor", collector.VisitFilter{VisitorID: f.VisitorA}, []string{f.V3, f.V2, f.V1}},
		{"state recognized", collector.VisitFilter{State: "recognized"}, []string{f.V5, f.V3}},
		{"state anonymous", collector.VisitFilter{State: "anonymous"}, []string{f.V4, f.V1}},
		{"state authenticated", collector.VisitFilter{State: "authenticated"}, []string{f.V2}},
		{"since inclusive", collector.VisitFilter{Since: h(time.Hour)}, []string{f.V5, f.V3, f.V2}},
		{"until exclusive", collector.VisitFilter{Until: h(time.Hour)}, []string{f.V4, f.V1}},
		{"since and until", collector.VisitFilter{Since: h(30 * time.Minute), Until: h(2*time.Hour + time.Nanosecond)}, []string{f.V3, f.V2, f.V4}},
		{"identity and state", collector.VisitFilter{IdentityID: f.Alice, State: "anonymous"}, []string{f.V1}},
		{"visitor and since", collector.VisitFilter{VisitorID: f.VisitorA, Since: h(90 * time.Minute)}, []string{f.V3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.FindVisits(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(visitIDs(got), tc.want) || next != "" {
				t.Errorf("got %v next %q, want %v", visitIDs(got), next, tc.want)
			}
		})
	}
}

func TestFindVisitsInvalid(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	_, events, err := s.FindEvents(ctx, collector.EventFilter{ListOptions: collector.ListOptions{Limit: 1}})
	if err != nil || events == "" {
		t.Fatalf("events cursor %q, %v", events, err)
	}
	for name, filter := range map[string]collector.VisitFilter{
		"bad state":         {State: "sleeping"},
		"limit too big":     {ListOptions: collector.ListOptions{Limit: collector.MaxLimit + 1}},
		"negative limit":    {ListOptions: collector.ListOptions{Limit: -1}},
		"garbage cursor":    {ListOptions: collector.ListOptions{Cursor: "not a cursor!"}},
		"base64 not json":   {ListOptions: collector.ListOptions{Cursor: "aGVsbG8"}},
		"other list cursor": {ListOptions: collector.ListOptions{Cursor: events}},
		"empty range":       {Since: f.T0, Until: f.T0},
		"reversed range":    {Since: f.T0.Add(time.Hour), Until: f.T0},
	} {
		_, _, err := s.FindVisits(ctx, filter)
		if collector.ErrorCode(err) != collector.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func TestFindVisitsPagination(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	// Two more visits starting at the same instant as V2: the tie is
	// broken by visitId, and no page loses or repeats one.
	for _, id := range []string{storetest.ID(2, 7), storetest.ID(2, 6)} {
		storetest.InsertVisit(t, s, &collector.Visit{VisitID: id, VisitorID: f.VisitorB, SessionID: storetest.ID(3, 9),
			StartedAt: f.T0.Add(time.Hour), LastSeenAt: f.T0.Add(time.Hour)})
	}
	want := []string{f.V5, f.V3, storetest.ID(2, 7), storetest.ID(2, 6), f.V2, f.V4, f.V1}
	for limit := 1; limit <= 8; limit++ {
		var got []string
		cursor, pages := "", 0
		for {
			vs, next, err := s.FindVisits(ctx, collector.VisitFilter{ListOptions: collector.ListOptions{Limit: limit, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) > limit {
				t.Fatalf("limit %d: page of %d", limit, len(vs))
			}
			got = append(got, visitIDs(vs)...)
			pages++
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
		if wantPages := (len(want) + limit - 1) / limit; pages != wantPages {
			t.Errorf("limit %d: %d pages, want %d (nextCursor must be empty on the last page)", limit, pages, wantPages)
		}
	}
}

func TestFindVisit(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)

	v, err := s.FindVisit(ctx, f.V1)
	if err != nil {
		t.Fatal(err)
	}
	if v.VisitorID != f.VisitorA || v.IdentityID != nil || v.SessionID != f.S1 || v.State != "anonymous" || v.Verified {
		t.Errorf("ids and state: %+v", v)
	}
	if v.PageCount != 2 || v.EventCount != 3 {
		t.Errorf("counts %d pages %d events, want 2 and 3", v.PageCount, v.EventCount)
	}
	// last_seen_at (T0+1m) lags; the last event (E3, T0+3m) wins.
	if !v.StartedAt.Equal(f.T0) || !v.LastSeenAt.Equal(f.T0.Add(3*time.Minute)) || v.EndedAt == nil || !v.EndedAt.Equal(f.T0.Add(33*time.Minute)) {
		t.Errorf("times: started %v lastSeen %v ended %v", v.StartedAt, v.LastSeenAt, v.EndedAt)
	}
	if v.LandingURL != "https://shop.example/" || v.Referrer != "https://search.example/" || v.UserAgent != "UA-1" {
		t.Errorf("landing: %+v", v)
	}
	if v.StartedAt.Location() != time.UTC {
		t.Errorf("times must be UTC, got %v", v.StartedAt.Location())
	}

	v, err = s.FindVisit(ctx, f.V2)
	if err != nil {
		t.Fatal(err)
	}
	// last_seen_at (T0+70m) is newer than the last event (T0+68m).
	if v.IdentityID == nil || *v.IdentityID != f.Alice || v.State != "authenticated" || !v.Verified ||
		v.PageCount != 1 || v.EventCount != 3 || !v.LastSeenAt.Equal(f.T0.Add(70*time.Minute)) || v.EndedAt != nil {
		t.Errorf("V2: %+v", v)
	}

	_, err = s.FindVisit(ctx, storetest.ID(2, 99))
	wantCode(t, err, collector.ENOTFOUND)
}

func TestFindPages(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)

	pages, next, err := s.FindPages(ctx, f.V1, collector.ListOptions{})
	if err != nil || next != "" || len(pages) != 2 {
		t.Fatalf("pages %v next %q err %v", pages, next, err)
	}
	p1, p2 := pages[0], pages[1]
	if p1.PageID != f.P1 || p2.PageID != f.P2 {
		t.Errorf("order %s %s", p1.PageID, p2.PageID)
	}
	if p1.URL != "https://shop.example/" || p1.Title != "Shop" || p1.Referrer != "https://search.example/" ||
		!p1.EnteredAt.Equal(f.T0) || p1.ExitedAt == nil || !p1.ExitedAt.Equal(f.T0.Add(2*time.Minute)) ||
		p1.DurationMS == nil || *p1.DurationMS != 120000 {
		t.Errorf("P1: %+v", p1)
	}
	if p2.ExitedAt != nil || p2.DurationMS != nil {
		t.Errorf("P2 is still open: %+v", p2)
	}

	// Paging one at a time.
	first, next, err := s.FindPages(ctx, f.V1, collector.ListOptions{Limit: 1})
	if err != nil || len(first) != 1 || first[0].PageID != f.P1 || next == "" {
		t.Fatalf("first page %v %q %v", first, next, err)
	}
	second, next, err := s.FindPages(ctx, f.V1, collector.ListOptions{Limit: 1, Cursor: next})
	if err != nil || len(second) != 1 || second[0].PageID != f.P2 || next != "" {
		t.Fatalf("second page %v %q %v", second, next, err)
	}

	// A visit without pages is an empty list; an unknown visit is not found.
	pages, _, err = s.FindPages(ctx, f.V3, collector.ListOptions{})
	if err != nil || len(pages) != 0 {
		t.Errorf("V3 pages %v %v", pages, err)
	}
	_, _, err = s.FindPages(ctx, storetest.ID(2, 99), collector.ListOptions{})
	wantCode(t, err, collector.ENOTFOUND)

	p, err := s.FindPage(ctx, f.P3)
	if err != nil || p.VisitID != f.V2 || p.Title != "Login" {
		t.Errorf("FindPage: %+v %v", p, err)
	}
	_, err = s.FindPage(ctx, storetest.ID(4, 99))
	wantCode(t, err, collector.ENOTFOUND)
}

func TestFindPagesDurationFromExit(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	exited := f.T0.Add(90 * time.Second)
	storetest.InsertPage(t, s, &collector.Page{PageID: storetest.ID(4, 9), VisitID: f.V3, EnteredAt: f.T0, ExitedAt: &exited})
	p, err := s.FindPage(ctx, storetest.ID(4, 9))
	if err != nil || p.DurationMS == nil || *p.DurationMS != 90000 {
		t.Fatalf("duration of an exited page without stored duration: %+v %v", p, err)
	}
}

func TestFindEvents(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	h := func(d time.Duration) time.Time { return f.T0.Add(d) }

	for _, tc := range []struct {
		name   string
		filter collector.EventFilter
		want   []string
	}{
		{"all in corrected order", collector.EventFilter{}, []string{f.E1, f.E2, f.E3, f.E8, f.E4, f.E5, f.E6, f.E7, f.E9}},
		{"visit", collector.EventFilter{VisitID: f.V2}, []string{f.E4, f.E5, f.E6}},
		{"identity incl. stitched", collector.EventFilter{IdentityID: f.Alice}, []string{f.E1, f.E2, f.E3, f.E4, f.E5, f.E6, f.E7}},
		{"identity by claim", collector.EventFilter{IdentityID: f.Bob}, []string{f.E9}},
		{"unknown visit", collector.EventFilter{VisitID: storetest.ID(2, 99)}, nil},
		{"name", collector.EventFilter{Name: "PageEntered"}, []string{f.E2, f.E8, f.E4}},
		{"business", collector.EventFilter{Category: "business"}, []string{f.E3, f.E6}},
		{"system of identity", collector.EventFilter{IdentityID: f.Alice, Category: "system"}, []string{f.E1, f.E2, f.E4, f.E5, f.E7}},
		{"since inclusive", collector.EventFilter{Since: h(time.Hour)}, []string{f.E4, f.E5, f.E6, f.E7, f.E9}},
		{"until exclusive", collector.EventFilter{Until: h(3 * time.Minute)}, []string{f.E1, f.E2}},
		{"identity, name and range", collector.EventFilter{IdentityID: f.Alice, Name: "Purchase", Since: h(time.Hour), Until: h(2 * time.Hour)}, []string{f.E6}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, next, err := s.FindEvents(ctx, tc.filter)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(eventIDs(got), tc.want) || next != "" {
				t.Errorf("got %v next %q, want %v", eventIDs(got), next, tc.want)
			}
		})
	}

	for name, filter := range map[string]collector.EventFilter{
		"bad category": {Category: "marketing"},
		"zero limit":   {ListOptions: collector.ListOptions{Limit: -5}},
		"range":        {Since: h(time.Hour), Until: h(0)},
	} {
		_, _, err := s.FindEvents(ctx, filter)
		if collector.ErrorCode(err) != collector.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
}

func TestFindEventFields(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	es, _, err := s.FindEvents(ctx, collector.EventFilter{Name: "Purchase"})
	if err != nil || len(es) != 1 {
		t.Fatalf("%v %v", es, err)
	}
	e := es[0]
	if e.EventID != f.E6 || e.VisitID != f.V2 || e.VisitorID != f.VisitorA || e.SessionID != f.S2b ||
		e.IdentityID == nil || *e.IdentityID != f.Alice || e.PageID != f.P3 || e.Category != "business" ||
		string(e.Data) != `{"total":42}` || e.URL != "https://shop.example/" {
		t.Errorf("event: %+v", e)
	}
	at := f.T0.Add(68 * time.Minute)
	if !e.CorrectedAt.Equal(at) || !e.Timestamp.Equal(at.Add(-time.Second)) || !e.ReceivedAt.Equal(at.Add(time.Second)) {
		t.Errorf("times: %v %v %v", e.Timestamp, e.CorrectedAt, e.ReceivedAt)
	}
}

func TestFindEventsPagination(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	// Three events at the same corrected instant: ties go by eventId.
	for _, n := range []int{12, 10, 11} {
		storetest.InsertEvent(t, s, &collector.Event{EventID: storetest.ID(5, n), VisitID: f.V4, VisitorID: f.VisitorB,
			SessionID: f.S4, Name: "Tick", Category: "business", CorrectedAt: f.T0.Add(45 * time.Minute)})
	}
	want := []string{storetest.ID(5, 10), storetest.ID(5, 11), storetest.ID(5, 12)}
	for limit := 1; limit <= 4; limit++ {
		var got []string
		cursor := ""
		for {
			es, next, err := s.FindEvents(ctx, collector.EventFilter{VisitID: f.V4, Name: "Tick", ListOptions: collector.ListOptions{Limit: limit, Cursor: cursor}})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, eventIDs(es)...)
			if next == "" {
				break
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %v, want %v", limit, got, want)
		}
	}

	var got []string
	cursor := ""
	for {
		es, next, err := s.FindEvents(ctx, collector.EventFilter{ListOptions: collector.ListOptions{Limit: 4, Cursor: cursor}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, eventIDs(es)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(got) != 12 || got[3] != f.E8 || got[4] != want[0] || got[6] != want[2] || got[7] != f.E4 {
		t.Errorf("all events paged by 4: %v", got)
	}
}

func TestFindSessions(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	ss, next, err := s.FindSessions(ctx, f.V2, collector.ListOptions{})
	if err != nil || next != "" || len(ss) != 2 {
		t.Fatalf("%v %q %v", ss, next, err)
	}
	a, b := ss[0], ss[1]
	if a.SessionID != f.S2a || a.IdentityID != nil || a.State != "anonymous" || a.Verified || a.EndedAt == nil || !a.EndedAt.Equal(f.T0.Add(65*time.Minute)) {
		t.Errorf("S2a: %+v", a)
	}
	if b.SessionID != f.S2b || b.IdentityID == nil || *b.IdentityID != f.Alice || b.State != "authenticated" || !b.Verified ||
		!b.StartedAt.Equal(f.T0.Add(65*time.Minute)) || b.EndedAt != nil || b.VisitID != f.V2 {
		t.Errorf("S2b: %+v", b)
	}
	one, next, err := s.FindSessions(ctx, f.V2, collector.ListOptions{Limit: 1})
	if err != nil || len(one) != 1 || next == "" {
		t.Fatalf("%v %q %v", one, next, err)
	}
	two, next, err := s.FindSessions(ctx, f.V2, collector.ListOptions{Limit: 1, Cursor: next})
	if err != nil || len(two) != 1 || two[0].SessionID != f.S2b || next != "" {
		t.Fatalf("%v %q %v", two, next, err)
	}
	_, _, err = s.FindSessions(ctx, storetest.ID(2, 99), collector.ListOptions{})
	wantCode(t, err, collector.ENOTFOUND)
}

func TestFindVisitIdentities(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	for _, tc := range []struct {
		visit, how, user string
		verified         bool
	}{
		{f.V1, collector.LinkStitched, f.AliceUser, true},
		{f.V2, collector.LinkAuthenticated, f.AliceUser, true},
		{f.V3, collector.LinkRecognized, f.AliceUser, true},
		{f.V5, collector.LinkRecognized, f.BobUser, false},
	} {
		links, err := s.FindVisitIdentities(ctx, tc.visit)
		if err != nil || len(links) != 1 {
			t.Fatalf("%s: %v %v", tc.visit, links, err)
		}
		l := links[0]
		if l.How != tc.how || l.UserID != tc.user || l.Verified != tc.verified || l.LinkedAt.IsZero() {
			t.Errorf("%s: %+v", tc.visit, l)
		}
	}
	links, err := s.FindVisitIdentities(ctx, f.V4)
	if err != nil || len(links) != 0 {
		t.Errorf("V4: %v %v", links, err)
	}
	_, err = s.FindVisitIdentities(ctx, storetest.ID(2, 99))
	wantCode(t, err, collector.ENOTFOUND)
}

func TestFindIdentities(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)

	all, next, err := s.FindIdentities(ctx, "", collector.ListOptions{})
	if err != nil || next != "" || len(all) != 2 || all[0].IdentityID != f.Alice || all[1].IdentityID != f.Bob {
		t.Fatalf("all: %v %q %v", all, next, err)
	}
	one, next, err := s.FindIdentities(ctx, "", collector.ListOptions{Limit: 1})
	if err != nil || len(one) != 1 || one[0].IdentityID != f.Alice || next == "" {
		t.Fatalf("first page: %v %q %v", one, next, err)
	}
	two, next, err := s.FindIdentities(ctx, "", collector.ListOptions{Limit: 1, Cursor: next})
	if err != nil || len(two) != 1 || two[0].IdentityID != f.Bob || next != "" {
		t.Fatalf("second page: %v %q %v", two, next, err)
	}

	bob, _, err := s.FindIdentities(ctx, f.BobUser, collector.ListOptions{})
	if err != nil || len(bob) != 1 || bob[0].IdentityID != f.Bob {
		t.Fatalf("by userId: %v %v", bob, err)
	}
	none, _, err := s.FindIdentities(ctx, "nobody@example.com", collector.ListOptions{})
	if err != nil || len(none) != 0 {
		t.Errorf("unknown userId: %v %v", none, err)
	}
	_, _, err = s.FindIdentities(ctx, "", collector.ListOptions{Limit: 5000})
	wantCode(t, err, collector.EINVALID)
}

func TestFindIdentity(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	// Alice also used a second browser.
	storetest.Exec(t, s, `INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) VALUES (?, ?, 0)`, f.Alice, storetest.ID(1, 9))

	a, err := s.FindIdentity(ctx, f.Alice)
	if err != nil {
		t.Fatal(err)
	}
	if a.UserID != f.AliceUser || string(a.Attributes) != `{"plan":"gold"}` ||
		!a.FirstSeenAt.Equal(f.T0.Add(time.Hour)) || !a.LastSeenAt.Equal(f.T0.Add(2*time.Hour)) ||
		!slices.Equal(a.VisitorIDs, []string{f.VisitorA, storetest.ID(1, 9)}) {
		t.Errorf("Alice: %+v", a)
	}
	b, err := s.FindIdentity(ctx, f.Bob)
	if err != nil || b.VisitorIDs == nil || len(b.VisitorIDs) != 0 || string(b.Attributes) != `{}` {
		t.Errorf("Bob: %+v %v", b, err)
	}
	_, err = s.FindIdentity(ctx, storetest.ID(6, 99))
	wantCode(t, err, collector.ENOTFOUND)
}

func TestFindIdentityVisits(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)

	vs, next, err := s.FindIdentityVisits(ctx, f.Alice, collector.ListOptions{})
	if err != nil || next != "" || !slices.Equal(visitIDs(vs), []string{f.V3, f.V2, f.V1}) {
		t.Fatalf("Alice: %v %q %v", visitIDs(vs), next, err)
	}
	if vs[2].PageCount != 2 || vs[2].EventCount != 3 {
		t.Errorf("lists carry counts too: %+v", vs[2])
	}
	vs, next, err = s.FindIdentityVisits(ctx, f.Alice, collector.ListOptions{Limit: 2})
	if err != nil || next == "" || !slices.Equal(visitIDs(vs), []string{f.V3, f.V2}) {
		t.Fatalf("page 1: %v %q %v", visitIDs(vs), next, err)
	}
	vs, next, err = s.FindIdentityVisits(ctx, f.Alice, collector.ListOptions{Limit: 2, Cursor: next})
	if err != nil || next != "" || !slices.Equal(visitIDs(vs), []string{f.V1}) {
		t.Fatalf("page 2: %v %q %v", visitIDs(vs), next, err)
	}

	// An identity whose visit is linked only by visits.identity_id (no
	// visit_identities row), on a browser it used.
	carol := storetest.ID(6, 3)
	storetest.InsertIdentity(t, s, &collector.Identity{IdentityID: carol, UserID: "carol", FirstSeenAt: f.T0, LastSeenAt: f.T0,
		VisitorIDs: []string{storetest.ID(1, 8)}})
	vs, _, err = s.FindIdentityVisits(ctx, carol, collector.ListOptions{})
	if err != nil || len(vs) != 0 {
		t.Fatalf("carol without visits: %v %v", vs, err)
	}
	storetest.InsertVisit(t, s, &collector.Visit{VisitID: storetest.ID(2, 8), VisitorID: storetest.ID(1, 8), IdentityID: &carol,
		SessionID: storetest.ID(3, 8), State: "authenticated", StartedAt: f.T0, LastSeenAt: f.T0})
	vs, _, err = s.FindIdentityVisits(ctx, carol, collector.ListOptions{})
	if err != nil || !slices.Equal(visitIDs(vs), []string{storetest.ID(2, 8)}) {
		t.Fatalf("carol: %v %v", visitIDs(vs), err)
	}

	_, _, err = s.FindIdentityVisits(ctx, storetest.ID(6, 99), collector.ListOptions{})
	wantCode(t, err, collector.ENOTFOUND)
}
