package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/store"
)

// SeedBulk stores visits visits of events events each (a PageEntered
// followed by business events with a small JSON payload), in one
// transaction, for tests and benchmarks of large reads. Visit n starts at
// t0 + n seconds; its events follow a millisecond apart. Ids are ID(7, n)
// for visits and ID(8, n) for events, in that order.
func SeedBulk(t testing.TB, s *store.Store, t0 time.Time, visits, events int) {
	t.Helper()
	ctx := context.Background()
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	visit, err := tx.PrepareContext(ctx, `INSERT INTO visits (visit_id, visitor_id, session_id, started_at, last_seen_at,
		landing_url, user_agent, event_count) VALUES (?, ?, ?, ?, ?, 'https://shop.example/', 'Mozilla/5.0 (bench)', ?)
		RETURNING visit_key`)
	if err != nil {
		t.Fatal(err)
	}
	event, err := tx.PrepareContext(ctx, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, page_id,
		name, category, timestamp, corrected_at, received_at, url, title, data, visit_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'https://shop.example/cart', 'Cart', ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for v := 0; v < visits; v++ {
		vid, visitor, session, page := ID(7, v), ID(1, 100000+v), ID(3, 100000+v), ID(4, 100000+v)
		start := t0.Add(time.Duration(v) * time.Second).UnixMilli()
		var key int64
		if err := visit.QueryRowContext(ctx, vid, visitor, session, start, start+int64(events), events).Scan(&key); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < events; i++ {
			name, category, data := "AddToCart", "business", `{"sku":"A-1","qty":2,"price":19.9}`
			if i == 0 {
				name, category, data = "PageEntered", "system", `{}`
			}
			at := start + int64(i)
			if _, err := event.ExecContext(ctx, ID(8, n), vid, visitor, session, page, name, category, at, at, at, data, key); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}
