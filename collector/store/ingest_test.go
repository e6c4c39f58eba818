package store_test

import (
	"context"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// EndVisit ends a visit once: a second call, as from a cron sweep and a
// request racing on D1, reports that it ended nothing and changes nothing.
func TestEndVisitOnce(t *testing.T) {
	s := storetest.New(t, store.WithoutTransactions(), store.WithMaxParams(100))
	ctx := context.Background()
	v := &store.VisitState{VisitID: ulid.Make().String(), VisitorID: ulid.Make().String(), SessionID: ulid.Make().String(),
		State: protocol.StateAnonymous, StartedAt: 1000, LastSeenAt: 2000}
	if err := s.CreateVisit(ctx, s.DB(), v, store.VisitOrigin{}); err != nil {
		t.Fatal(err)
	}
	first, second := *v, *v
	ended, err := s.EndVisit(ctx, s.DB(), &first, 5000)
	if err != nil || !ended || first.EndedAt != 5000 {
		t.Fatalf("first EndVisit: ended %v, EndedAt %d, err %v", ended, first.EndedAt, err)
	}
	ended, err = s.EndVisit(ctx, s.DB(), &second, 6000)
	if err != nil || ended {
		t.Fatalf("second EndVisit: ended %v, err %v", ended, err)
	}
	var visitEnd, sessionEnd int64
	if err := s.DB().QueryRow(`SELECT v.ended_at, s.ended_at FROM visits v JOIN sessions s USING (visit_id) WHERE v.visit_id = ?`,
		v.VisitID).Scan(&visitEnd, &sessionEnd); err != nil {
		t.Fatal(err)
	}
	if visitEnd != 5000 || sessionEnd != 5000 {
		t.Fatalf("ended at %d, session at %d; want 5000", visitEnd, sessionEnd)
	}
}
