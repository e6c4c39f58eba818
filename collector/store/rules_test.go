package store_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestUpsertPageBelongsToOneVisit: the visit that first used a pageId owns
// the page; another visit's entry or exit changes nothing and is reported.
func TestUpsertPageBelongsToOneVisit(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	page, a, b := storetest.ID(3, 1), storetest.ID(2, 1), storetest.ID(2, 2)
	upsert := func(p store.PageRow) bool {
		t.Helper()
		ok, err := s.UpsertPage(ctx, s.DB(), &p)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	stored := func() (visit, url string, exited any) {
		t.Helper()
		if err := s.DB().QueryRowContext(ctx, `SELECT visit_id, url, exited_at FROM pages WHERE page_id = ?`, page).
			Scan(&visit, &url, &exited); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !upsert(store.PageRow{PageID: page, VisitID: a, URL: "https://shop.example/a", EnteredAt: 1000}) {
		t.Fatal("a new page was refused")
	}
	if upsert(store.PageRow{PageID: page, VisitID: b, URL: "https://evil.example/", EnteredAt: 2000}) {
		t.Fatal("another visit's entry was accepted")
	}
	if upsert(store.PageRow{PageID: page, VisitID: b, EnteredAt: 1500, ExitedAt: 2500, DurationMS: 1000}) {
		t.Fatal("another visit's exit was accepted")
	}
	if visit, url, exited := stored(); visit != a || url != "https://shop.example/a" || exited != nil {
		t.Fatalf("page after another visit used its id: visit %s url %s exited %v", visit, url, exited)
	}
	if !upsert(store.PageRow{PageID: page, VisitID: a, EnteredAt: 1000, ExitedAt: 3000, DurationMS: 2000}) ||
		!upsert(store.PageRow{PageID: page, VisitID: a, URL: "https://shop.example/a2", EnteredAt: 1000}) {
		t.Fatal("the owner's own exit or entry was refused")
	}
	if visit, url, exited := stored(); visit != a || url != "https://shop.example/a2" || exited == nil {
		t.Fatalf("page after its owner's updates: visit %s url %s exited %v", visit, url, exited)
	}
}

// TestReadOutOfRangeTimes: rows written before ingest bounded times may
// hold any integer; reading them must give answers that encode.
func TestReadOutOfRangeTimes(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	storetest.Exec(t, s, `UPDATE events SET corrected_at = ?, timestamp = ? WHERE event_id = ?`, int64(math.MinInt64), int64(-9e18), f.E1)
	storetest.Exec(t, s, `UPDATE events SET corrected_at = ?, received_at = ? WHERE event_id = ?`, int64(math.MaxInt64), int64(9e18), f.E2)
	storetest.Exec(t, s, `UPDATE pages SET entered_at = ?, exited_at = ? WHERE page_id = ?`, int64(-9e18), int64(9e18), f.P1)
	storetest.Exec(t, s, `UPDATE visits SET started_at = ?, last_seen_at = ? WHERE visit_id = ?`, int64(-9e18), int64(math.MaxInt64), f.V1)

	encode := func(what string, v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("%s does not encode: %v", what, err)
		}
	}
	events, _, err := s.FindEvents(ctx, collector.EventFilter{VisitID: f.V1})
	encode("events of V1", events, err)
	if len(events) == 0 {
		t.Fatal("no events of V1")
	}
	all, _, err := s.FindEvents(ctx, collector.EventFilter{IdentityID: f.Alice})
	encode("events of Alice", all, err)
	pages, _, err := s.FindPages(ctx, f.V1, collector.ListOptions{})
	encode("pages of V1", pages, err)
	page, err := s.FindPage(ctx, f.P1)
	encode("page P1", page, err)
	visit, err := s.FindVisit(ctx, f.V1)
	encode("visit V1", visit, err)
	visits, _, err := s.FindVisits(ctx, collector.VisitFilter{})
	encode("visits", visits, err)
	if visit.StartedAt.Year() != 0 || visit.LastSeenAt.Year() != 9999 {
		t.Fatalf("visit V1 times %s, %s: want them clamped to years 0 and 9999", visit.StartedAt, visit.LastSeenAt)
	}
}
