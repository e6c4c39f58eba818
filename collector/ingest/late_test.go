package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestLateDeliveryJoinsTheEndedVisit: events made before a visit ended
// and delivered after it (a beacon the next page sends again) are filed in
// that visit and open no new one; an event made after the end does open
// one. Natively and in Direct mode (the edge).
func TestLateDeliveryJoinsTheEndedVisit(t *testing.T) {
	for mode, open := range map[string]func(*testing.T) *store.Store{
		"native": func(t *testing.T) *store.Store { return storetest.New(t) },
		"direct": func(t *testing.T) *store.Store { return storetest.NewD1Like(t) },
	} {
		t.Run(mode, func(t *testing.T) { testLateDelivery(t, open(t), mode == "direct") })
	}
}

func testLateDelivery(t *testing.T, st *store.Store, direct bool) {
	ctx := context.Background()
	signer, err := identity.NewSigner([]byte(strings.Repeat("k", 32)), 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	const timeout = 30 * time.Minute
	in, err := ingest.New(ingest.Config{Store: st, Signer: signer, VisitTimeout: timeout, Direct: direct, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	event := func(name string, at time.Time) json.RawMessage {
		e, _ := json.Marshal(protocol.Event{EventID: ulid.Make().String(), Name: name, PageID: ulid.Make().String(),
			Timestamp: at.Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"})
		return e
	}
	start := now()
	first, err := in.Collect(ctx, ingest.Client{}, "", []json.RawMessage{event(protocol.EventPageEntered, start)})
	if err != nil {
		t.Fatal(err)
	}
	c := ingest.Client{VisitorID: first.Visit.VisitorID, VisitID: first.Visit.VisitID, VisitorKey: first.Visit.VisitorKey}

	mu.Lock()
	clock = clock.Add(timeout + time.Minute)
	mu.Unlock()
	late, err := in.Collect(ctx, c, "", []json.RawMessage{event(protocol.EventPageExited, start.Add(5*time.Minute))})
	if err != nil {
		t.Fatal(err)
	}
	if late.Visit.VisitID != first.Visit.VisitID || late.NewVisit || len(late.Ack.EventIDs) != 1 {
		t.Fatalf("late delivery: visit %s (new %v), ack %+v; want the ended visit %s", late.Visit.VisitID, late.NewVisit, late.Ack, first.Visit.VisitID)
	}
	visits := func() []*collector.Visit {
		t.Helper()
		vs, _, err := st.FindVisits(ctx, collector.VisitFilter{VisitorID: first.Visit.VisitorID})
		if err != nil {
			t.Fatal(err)
		}
		return vs
	}
	if vs := visits(); len(vs) != 1 || vs[0].EndedAt == nil || vs[0].EventCount < 2 {
		t.Fatalf("after the late delivery: %d visits %+v, want the one ended visit with both events", len(vs), vs)
	}

	fresh, err := in.Collect(ctx, c, "", []json.RawMessage{event("Browse", now())})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Visit.VisitID == first.Visit.VisitID || !fresh.NewVisit {
		t.Fatalf("an event after the end stayed in the ended visit %s", fresh.Visit.VisitID)
	}
	if vs := visits(); len(vs) != 2 {
		t.Fatalf("%d visits, want 2", len(vs))
	}
}
