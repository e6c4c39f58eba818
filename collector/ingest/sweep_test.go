package ingest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

var registerD1Like sync.Once

// openD1Like opens a SQLite file that refuses what D1 refuses: BEGIN,
// COMMIT and SAVEPOINT. The store keeps to D1's other rules itself
// (WithoutTransactions, 100 bound parameters), as edge.OpenStore does.
func openD1Like(t *testing.T) *store.Store {
	t.Helper()
	registerD1Like.Do(func() {
		sql.Register("sqlite3_d1like", &sqlite3.SQLiteDriver{
			ConnectHook: func(c *sqlite3.SQLiteConn) error {
				c.RegisterAuthorizer(func(op int, _, _, _ string) int {
					if op == sqlite3.SQLITE_TRANSACTION || op == sqlite3.SQLITE_SAVEPOINT {
						return sqlite3.SQLITE_DENY
					}
					return sqlite3.SQLITE_OK
				})
				return nil
			},
		})
	})
	db, err := sql.Open("sqlite3_d1like", "file:"+filepath.Join(t.TempDir(), "edge.db")+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Begin(); err == nil {
		t.Fatal("the D1-like database allowed BEGIN")
	}
	st := store.New(db, store.WithoutTransactions(), store.WithMaxParams(100))
	if err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestSweepDirect: in Direct mode (the edge build), Sweep ends the visits
// idle for the visit timeout as the native sweeper does: ended_at and
// VisitEnded at the last activity plus the timeout, the session closed,
// at most limit visits a call, oldest first, and active visits left open.
func TestSweepDirect(t *testing.T) {
	ctx := context.Background()
	st := openD1Like(t)
	signer, err := identity.NewSigner([]byte(strings.Repeat("k", 32)), 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	const timeout = 30 * time.Minute
	in, err := ingest.New(ingest.Config{Store: st, Signer: signer, VisitTimeout: timeout, Direct: true, Now: now})
	if err != nil {
		t.Fatal(err)
	}

	// visit sends one Browse event now for a new visit and returns its id.
	visit := func() string {
		t.Helper()
		e, _ := json.Marshal(protocol.Event{EventID: ulid.Make().String(), Name: "Browse",
			Timestamp: now().Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"})
		res, err := in.Collect(ctx, ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String()}, "", []json.RawMessage{e})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Ack.EventIDs) != 1 {
			t.Fatalf("ack %+v", res.Ack)
		}
		return res.Visit.VisitID
	}
	sweep := func(limit, want int) {
		t.Helper()
		n, err := in.Sweep(ctx, limit)
		if err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Fatalf("Sweep(%d) ended %d visits, want %d", limit, n, want)
		}
	}
	// ended checks a visit that timed out after its activity at last.
	ended := func(id string, last time.Time) {
		t.Helper()
		v, err := st.FindVisit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		end := last.Add(timeout)
		if v.EndedAt == nil || !v.EndedAt.Equal(end) {
			t.Fatalf("visit %s ended at %v, want %v", id, v.EndedAt, end)
		}
		evs, _, err := st.FindEvents(ctx, collector.EventFilter{VisitID: id})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range evs {
			names = append(names, e.Name)
		}
		if fmt.Sprint(names) != "[Browse VisitEnded]" {
			t.Fatalf("visit %s events %v, want [Browse VisitEnded]", id, names)
		}
		if ve := evs[1]; !ve.Timestamp.Equal(end) || !ve.CorrectedAt.Equal(end) ||
			ve.Category != protocol.CategorySystem || ve.SessionID != v.SessionID {
			t.Fatalf("VisitEnded %+v, want it at %v in session %s", ve, end, v.SessionID)
		}
		ss, _, err := st.FindSessions(ctx, id, collector.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if s := ss[len(ss)-1]; s.EndedAt == nil || !s.EndedAt.Equal(end) {
			t.Fatalf("visit %s session ended at %v, want %v", id, s.EndedAt, end)
		}
	}
	open := func(id string) {
		t.Helper()
		v, err := st.FindVisit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if v.EndedAt != nil {
			t.Fatalf("visit %s ended at %v, want it open", id, v.EndedAt)
		}
	}

	// Three visits a minute apart, a fourth 20 minutes later.
	var ids []string
	var lasts []time.Time
	for range 3 {
		ids, lasts = append(ids, visit()), append(lasts, now())
		advance(time.Minute)
	}
	advance(19 * time.Minute)
	active, activeAt := visit(), now()

	sweep(0, 0) // nobody idle for 30 minutes yet
	advance(timeout - 19*time.Minute)
	// Now the first three are idle beyond the timeout, the fourth is not.
	sweep(2, 2)
	ended(ids[0], lasts[0])
	ended(ids[1], lasts[1])
	open(ids[2])
	sweep(2, 1)
	ended(ids[2], lasts[2])
	open(active)
	sweep(0, 0) // an ended visit is not ended again

	advance(20 * time.Minute)
	sweep(0, 1)
	ended(active, activeAt)
	evs, _, err := st.FindEvents(ctx, collector.EventFilter{Name: protocol.EventVisitEnded})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 4 {
		t.Fatalf("%d VisitEnded events, want 4", len(evs))
	}

	// The native ingester sweeps on its own goroutine.
	native, err := ingest.New(ingest.Config{Store: st, Signer: signer})
	if err != nil {
		t.Fatal(err)
	}
	defer native.Close(ctx)
	if _, err := native.Sweep(ctx, 0); err == nil {
		t.Fatal("Sweep outside Direct mode: want an error")
	}
}
