package store_test

import (
	"context"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// offer records an engagement offer made to a visit, as the engine does.
func offer(t *testing.T, s *store.Store, offerID, visitID, visitorID string) {
	t.Helper()
	storetest.Exec(t, s, `INSERT INTO engagement_offers (offer_id, rule_id, visit_id, visitor_id, offered_at, expires_at)
		VALUES (?, 'rule', ?, ?, 1, 2)`, offerID, visitID, visitorID)
}

// Erasing a visitor, an identity, or a visit by retention takes the
// engagement offers made to its visits: they name the visit and the
// browser.
func TestErasureTakesEngagementOffers(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	offer(t, s, "offer-b", f.V4, f.VisitorB)
	offer(t, s, "offer-a", f.V1, f.VisitorA)
	offer(t, s, "offer-c", f.V5, f.VisitorC)

	if err := s.DeleteVisitor(ctx, f.VisitorB, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, s, "engagement_offers", "visitor_id = ?", f.VisitorB); n != 0 {
		t.Errorf("%d offers of the erased browser left", n)
	}
	if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, s, "engagement_offers", "visit_id = ?", f.V1); n != 0 {
		t.Errorf("%d offers of the erased identity's visit left", n)
	}
	if n := storetest.Count(t, s, "engagement_offers", "offer_id = 'offer-c'"); n != 1 {
		t.Errorf("another browser's offer: %d rows, want it kept", n)
	}
}
