package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestMigrationKeysVisits: the migration that gives visits an integer key
// numbers the stored visits in the order they started, files each stored
// event under its visit's key (the history finds them), keeps the keys
// through VACUUM, and never gives an erased visit's key to a new visit.
// The rollups' trigger, rebuilt with it, still tells a bot's events apart
// when they are erased.
func TestMigrationKeysVisits(t *testing.T) {
	ctx := context.Background()
	db := databaseBefore(t, "0020_visit_key.sql")
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).UnixMilli()
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// Ids in the opposite order of the start times: the keys follow the
	// start times.
	visits := []string{"01JD0000000000000000000009", "01JD0000000000000000000008", "01JD0000000000000000000007"}
	for v, visit := range visits {
		exec(`INSERT INTO visits (visit_id, visitor_id, state, session_id, started_at, last_seen_at, bot)
			VALUES (?, ?, 'anonymous', '01JD0000000000000000000003', ?, ?, ?)`,
			visit, fmt.Sprintf("01JD000000000000000000000%d", v+1), at+int64(v), at+int64(v), v%2)
		for i := 0; i <= v; i++ {
			exec(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at)
				VALUES (?, ?, ?, '01JD0000000000000000000003', 'Click', 'business', ?, ?, ?)`,
				fmt.Sprintf("01JD0000000000000000000E%d%d", v, i), visit, fmt.Sprintf("01JD000000000000000000000%d", v+1), at, at+int64(i), at)
		}
	}
	s := store.New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	keys := func() map[string]int64 {
		t.Helper()
		rows, err := db.QueryContext(ctx, `SELECT visit_id, visit_key FROM visits`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]int64{}
		for rows.Next() {
			var id string
			var k int64
			if err := rows.Scan(&id, &k); err != nil {
				t.Fatal(err)
			}
			m[id] = k
		}
		return m
	}
	before := keys()
	for v, visit := range visits {
		if before[visit] != int64(v+1) {
			t.Errorf("visit %s, number %d by start time: key %d, want %d", visit, v+1, before[visit], v+1)
		}
		events, _, err := s.FindEvents(ctx, collector.EventFilter{VisitID: visit})
		if err != nil {
			t.Fatal(err)
		}
		if len(events) != v+1 {
			t.Errorf("visit %s: %d events in its history after the migration, want %d", visit, len(events), v+1)
		}
	}
	var unkeyed int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM events e JOIN visits v ON v.visit_id = e.visit_id
		WHERE e.visit_key IS NOT v.visit_key`).Scan(&unkeyed); err != nil || unkeyed != 0 {
		t.Fatalf("%d events not under their visit's key (%v)", unkeyed, err)
	}
	exec(`VACUUM`)
	if after := keys(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("keys after VACUUM %v, before %v", after, before)
	}

	// The newest visit goes (a bot's, erased); the next visit takes a key
	// of its own.
	newest := &store.VisitState{VisitID: "01JD000000000000000000000A", VisitorID: "01JD000000000000000000000B",
		SessionID: "01JD000000000000000000000C", State: "anonymous", StartedAt: at + 10, LastSeenAt: at + 10}
	if err := s.CreateVisit(ctx, db, newest, store.VisitOrigin{Insight: store.VisitInsight{Bot: true}}); err != nil {
		t.Fatal(err)
	}
	if newest.Key != 4 {
		t.Fatalf("a new visit after three: key %d, want 4", newest.Key)
	}
	hw, err := s.EventsHighWater(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	row := store.EventRow{EventID: "01JD000000000000000000000D", VisitID: newest.VisitID, VisitKey: newest.Key,
		VisitorID: newest.VisitorID, SessionID: newest.SessionID, Name: "PageEntered", Category: "system",
		Timestamp: at + 10, CorrectedAt: at + 10, ReceivedAt: at + 10, URL: "https://shop.example/", Data: "{}"}
	if _, _, err := s.InsertEvents(ctx, db, []store.EventRow{row}, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.CountEvents(ctx, db, hw, hw+1, nil); err != nil {
		t.Fatal(err)
	}
	var bots int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM stats_events WHERE bot = 1`).Scan(&bots); err != nil || bots == 0 {
		t.Fatalf("the bot visit's event is not in the rollups: %d rows (%v)", bots, err)
	}
	if err := s.DeleteVisitor(ctx, newest.VisitorID, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM stats_events WHERE bot = 1`).Scan(&bots); err != nil || bots != 0 {
		t.Fatalf("after the bot visit's erasure, %d rollup rows still count bots (%v)", bots, err)
	}
	next := &store.VisitState{VisitID: "01JD000000000000000000000E", VisitorID: "01JD000000000000000000000F",
		SessionID: "01JD000000000000000000000G", State: "anonymous", StartedAt: at + 20, LastSeenAt: at + 20}
	if err := s.CreateVisit(ctx, db, next, store.VisitOrigin{}); err != nil {
		t.Fatal(err)
	}
	if next.Key == newest.Key || slices.Contains([]int64{1, 2, 3}, next.Key) {
		t.Fatalf("a visit after an erasure took key %d, already given (erased visit: %d)", next.Key, newest.Key)
	}
	loaded, err := s.LoadVisit(ctx, db, next.VisitID)
	if err != nil || loaded == nil || loaded.Key != next.Key {
		t.Fatalf("LoadVisit: %+v %v, want key %d", loaded, err, next.Key)
	}
}

// TestEventsCarryTheirVisitKey: a native writer must give each event its
// visit's key (an event without one would be missing from the visit's
// history): a row without it is refused with an error that names it, and
// nothing of its statement is stored. On D1, whose writer creates visits
// without reading their keys back, the insert reads the key itself: the
// events land in their visit's history all the same.
func TestEventsCarryTheirVisitKey(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		s      *store.Store
		native bool
	}{{"native", storetest.New(t), true}, {"d1", storetest.NewD1Like(t), false}} {
		t.Run(c.name, func(t *testing.T) {
			s := c.s
			v := dedupVisit(t, s)
			if c.native && v.Key <= 0 {
				t.Fatalf("CreateVisit left the key %d", v.Key)
			}
			rows := []store.EventRow{dedupRow(v, storetest.ID(9, 1), "Click", 1000), dedupRow(v, storetest.ID(9, 2), "Click", 1001)}
			rows[1].VisitKey = 0
			_, _, err := s.InsertEvents(ctx, s.DB(), rows, nil)
			if c.native {
				if err == nil || !strings.Contains(err.Error(), storetest.ID(9, 2)) || !strings.Contains(err.Error(), "no key") {
					t.Fatalf("a row without its visit's key: %v", err)
				}
				if n := storetest.Count(t, s, "events", "visit_id = ?", v.VisitID); n != 0 {
					t.Fatalf("%d events stored from the refused statement", n)
				}
				rows[1].VisitKey = v.Key
				if _, _, err := s.InsertEvents(ctx, s.DB(), rows, nil); err != nil {
					t.Fatal(err)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			events, _, err := s.FindEvents(ctx, collector.EventFilter{VisitID: v.VisitID})
			if err != nil || len(events) != 2 {
				t.Fatalf("the visit's history: %d events (%v), want 2", len(events), err)
			}
		})
	}
}
