package store_test

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestCountNewEventsMatchesHighWater: counting the rows about to be
// inserted (CountNewEvents, the edge's way) gives the same rollups as
// counting after the insert from the events high water (CountEvents), on
// a store with D1's limits (several statements per call), in the rollups
// and the visits' event counts: an event already stored counts not at
// all and an event named twice once, page views only for
// PageEntered (without the URL's query), and a bot visit's events apart.
func TestCountNewEventsMatchesHighWater(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	setup := func() *store.Store {
		s := storetest.New(t, store.WithoutTransactions(), store.WithMaxParams(100))
		for i, bot := range []bool{false, true} {
			visitor, visit := storetest.ID(1, i), storetest.ID(2, i)
			storetest.InsertVisitor(t, s, visitor, t0)
			storetest.InsertVisit(t, s, &collector.Visit{VisitID: visit, VisitorID: visitor, SessionID: storetest.ID(3, i),
				StartedAt: t0, LastSeenAt: t0})
			if bot {
				storetest.Exec(t, s, `UPDATE visits SET bot = 1 WHERE visit_id = ?`, visit)
			}
		}
		return s
	}
	var rows []store.EventRow
	for i := range 45 { // more rows than one statement takes on D1
		name := []string{"Clicked", "PageEntered", "Viewed"}[i%3]
		rows = append(rows, store.EventRow{EventID: storetest.ID(9, i), VisitID: storetest.ID(2, i%2),
			VisitorID: storetest.ID(1, i%2), SessionID: storetest.ID(3, i%2), Name: name, Category: "custom",
			Timestamp: t0.UnixMilli(), CorrectedAt: t0.Add(time.Duration(i) * 40 * time.Second).UnixMilli(),
			ReceivedAt: t0.UnixMilli(), URL: fmt.Sprintf("https://shop.example/p%d?q=%d", i%4, i), Data: "{}"})
	}
	stored, dup := rows[:5], rows[7] // stored before; named twice
	batch := append(append([]store.EventRow(nil), rows...), dup)

	want, got := setup(), setup()
	for _, s := range []*store.Store{want, got} {
		if _, _, err := s.InsertEvents(ctx, s.DB(), stored, nil); err != nil {
			t.Fatal(err)
		}
		storetest.Exec(t, s, `DELETE FROM stats_events`)
		storetest.Exec(t, s, `DELETE FROM stats_pages`)
	}
	hw, err := want.EventsHighWater(ctx, want.DB())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := want.InsertEvents(ctx, want.DB(), batch, nil); err != nil {
		t.Fatal(err)
	}
	if err := want.CountEvents(ctx, want.DB(), hw, 0, nil); err != nil {
		t.Fatal(err)
	}
	if err := got.CountNewEvents(ctx, got.DB(), batch); err != nil {
		t.Fatal(err)
	}
	if _, _, err := got.InsertEvents(ctx, got.DB(), batch, nil); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"stats_events", "stats_pages"} {
		w, g := rollups(t, want, table), rollups(t, got, table)
		if len(w) == 0 || !maps.Equal(w, g) {
			t.Errorf("%s: CountNewEvents gave\n%v\nwant (CountEvents)\n%v", table, g, w)
		}
	}
	// And the visits' event counts: 40 new events over the two visits.
	counts := func(s *store.Store) [2]int {
		var c [2]int
		for i := range c {
			if err := s.DB().QueryRow(`SELECT event_count FROM visits WHERE visit_id = ?`, storetest.ID(2, i)).Scan(&c[i]); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	if w, g := counts(want), counts(got); w != g || w[0]+w[1] != 40 {
		t.Errorf("visits' event counts: CountNewEvents gave %v, CountEvents %v; want 40 in all", g, w)
	}
	// 40 new events, each at three levels.
	if n := sumN(rollups(t, got, "stats_events")); n != 40*3 {
		t.Errorf("%d counted in stats_events, want %d", n, 40*3)
	}
}

func rollups(t *testing.T, s *store.Store, table string) map[string]int64 {
	t.Helper()
	rows, err := s.DB().Query(`SELECT level, bucket, ` + map[string]string{"stats_events": "name", "stats_pages": "url"}[table] +
		`, bot, n FROM ` + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var level, bucket, bot, n int64
		var key string
		if err := rows.Scan(&level, &bucket, &key, &bot, &n); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprintf("%d/%d/%s/%d", level, bucket, key, bot)] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func sumN(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
