package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Trackers resend what they did not see acknowledged: the store is where
// a resend becomes harmless. These tests are the store's own, so that
// dropping ON CONFLICT (event_id) DO NOTHING, or reporting a resent event
// as new, fails here and not only somewhere downstream.

func dedupVisit(t *testing.T, s *store.Store) *store.VisitState {
	t.Helper()
	v := &store.VisitState{VisitID: ulid.Make().String(), VisitorID: ulid.Make().String(), SessionID: ulid.Make().String(),
		State: protocol.StateAnonymous, StartedAt: 1000, LastSeenAt: 1000}
	if err := s.CreateVisit(context.Background(), s.DB(), v, store.VisitOrigin{}); err != nil {
		t.Fatal(err)
	}
	return v
}

func dedupRow(v *store.VisitState, id, name string, at int64) store.EventRow {
	return store.EventRow{EventID: id, VisitID: v.VisitID, VisitKey: v.Key, VisitorID: v.VisitorID, SessionID: v.SessionID,
		PageID: ulid.Make().String(), Name: name, Category: "custom", Timestamp: at, CorrectedAt: at, ReceivedAt: at,
		URL: "https://shop.example/", Data: `{"n":"` + name + `"}`}
}

// TestResentEventsAreStoredOnce: a batch resent whole, with new events
// among the old ones and across several statements (a small parameter
// limit, as on D1), stores each event once and leaves the first copy as
// it was.
func TestResentEventsAreStoredOnce(t *testing.T) {
	s := storetest.New(t, store.WithMaxParams(100)) // 6 rows per statement
	ctx := context.Background()
	v := dedupVisit(t, s)
	var first []store.EventRow
	for i := range 10 {
		first = append(first, dedupRow(v, ulid.Make().String(), fmt.Sprintf("First%d", i), int64(2000+i)))
	}
	if _, _, err := s.InsertEvents(ctx, s.DB(), first, nil); err != nil {
		t.Fatal(err)
	}
	// The resend: every old event again, altered, and three new ones.
	var resend []store.EventRow
	for i, r := range first {
		r.Name, r.Data = "Altered", `{"altered":true}`
		resend = append(resend, r)
		if i%4 == 0 {
			resend = append(resend, dedupRow(v, ulid.Make().String(), fmt.Sprintf("New%d", i), int64(3000+i)))
		}
	}
	tx, err := s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.InsertEvents(ctx, tx, resend, nil); err != nil {
		tx.Rollback()
		t.Fatalf("resending a batch: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, s, "events", "visit_id = ?", v.VisitID); n != 13 {
		t.Fatalf("%d events stored, want 10 + 3 new", n)
	}
	if n := storetest.Count(t, s, "events", "name = 'Altered' OR data LIKE '%altered%'"); n != 0 {
		t.Fatalf("%d stored events were overwritten by their resend", n)
	}
	for _, r := range first {
		if n := storetest.Count(t, s, "events", "event_id = ? AND name = ? AND data = ?", r.EventID, r.Name, r.Data); n != 1 {
			t.Fatalf("event %s (%s): %d rows as first sent", r.EventID, r.Name, n)
		}
	}
}

// TestResentIdentityEventIsNotNew: InsertEvent, which ingest uses for
// identity events whose side effects (an identity linked, a token issued)
// must run once, reports a resent event as not new, stores it once and
// keeps the first copy, whether the first copy came through InsertEvent or
// a batch.
func TestResentIdentityEventIsNotNew(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []store.Option
	}{
		{"transactions", nil},
		{"D1-like", []store.Option{store.WithoutTransactions(), store.WithMaxParams(100)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := storetest.New(t, tc.opts...)
			ctx := context.Background()
			v := dedupVisit(t, s)
			sign := dedupRow(v, ulid.Make().String(), protocol.EventSignIn, 2000)
			sign.Category = "identity"
			isNew, err := s.InsertEvent(ctx, s.DB(), &sign)
			if err != nil || !isNew {
				t.Fatalf("first SignIn: new %v, err %v", isNew, err)
			}
			again := sign
			again.Data, again.ReceivedAt = `{"resent":true}`, 9000
			isNew, err = s.InsertEvent(ctx, s.DB(), &again)
			if err != nil || isNew {
				t.Fatalf("resent SignIn: new %v, err %v; want not new, no error", isNew, err)
			}
			if exists, err := s.EventExists(ctx, s.DB(), sign.EventID); err != nil || !exists {
				t.Fatalf("EventExists after insert: %v %v", exists, err)
			}
			if exists, err := s.EventExists(ctx, s.DB(), ulid.Make().String()); err != nil || exists {
				t.Fatalf("EventExists of an unknown event: %v %v", exists, err)
			}

			// First through a batch, then alone: still not new.
			batched := dedupRow(v, ulid.Make().String(), protocol.EventSignOut, 3000)
			if _, _, err := s.InsertEvents(ctx, s.DB(), []store.EventRow{batched}, nil); err != nil {
				t.Fatal(err)
			}
			if isNew, err := s.InsertEvent(ctx, s.DB(), &batched); err != nil || isNew {
				t.Fatalf("SignOut stored by a batch, then resent: new %v, err %v", isNew, err)
			}
			if n := storetest.Count(t, s, "events", "visit_id = ?", v.VisitID); n != 2 {
				t.Fatalf("%d events stored, want 2", n)
			}
			if n := storetest.Count(t, s, "events", "event_id = ? AND data = ? AND received_at = 2000", sign.EventID, sign.Data); n != 1 {
				t.Fatal("the resend replaced the first SignIn")
			}
		})
	}
}
