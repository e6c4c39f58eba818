package maintain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestSweepDirect: in Direct mode (the edge build), a round of the sweep
// ends the visits idle for the visit timeout as the native sweep does:
// ended_at and VisitEnded at the last activity plus the timeout, the
// session closed, at most limit visits a round, oldest first, and active
// visits left open.
func TestSweepDirect(t *testing.T) {
	ctx := context.Background()
	st := storetest.NewD1Like(t)
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
		r, err := maintain.Start(ctx, maintain.Config{Writer: in, Store: st, Once: true},
			maintain.Sweep(maintain.SweepConfig{VisitTimeout: timeout, Limit: limit}))
		if err != nil {
			t.Fatal(err)
		}
		n := r.Did()[0]
		if n != want {
			t.Fatalf("a round of limit %d ended %d visits, want %d", limit, n, want)
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
}

// TestSweepNative: natively the sweep job, started once, ends an idle
// visit by itself, in the writer, a quarter of the visit timeout late at
// most; Stop ends it.
func TestSweepNative(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	const timeout = 200 * time.Millisecond
	in := ingesttest.Start(t, ingest.Config{Store: st, VisitTimeout: timeout})
	e, _ := json.Marshal(protocol.Event{EventID: ulid.Make().String(), Name: "Browse",
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"})
	res, err := in.Collect(ctx, ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String()}, "", []json.RawMessage{e})
	if err != nil {
		t.Fatal(err)
	}
	r, err := maintain.Start(ctx, maintain.Config{Writer: in, Store: st}, maintain.Sweep(maintain.SweepConfig{VisitTimeout: timeout}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		v, err := st.FindVisit(ctx, res.Visit.VisitID)
		if err != nil {
			t.Fatal(err)
		}
		if v.EndedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sweep job did not end the idle visit")
		}
		time.Sleep(20 * time.Millisecond)
	}
	evs, _, err := st.FindEvents(ctx, collector.EventFilter{VisitID: res.Visit.VisitID})
	if err != nil || len(evs) != 2 || evs[1].Name != protocol.EventVisitEnded {
		t.Fatalf("events %+v, %v; want Browse and VisitEnded", evs, err)
	}
}
