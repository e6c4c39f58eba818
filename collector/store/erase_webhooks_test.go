package store_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// seedDeliveries writes to the outbox, as package webhook does, a pending
// delivery of each of the fixture's events (E1…E9), a settled one of E1,
// and a visitorData.changed delivery per subject (each body holding a copy
// of that subject's document), and one whose body was already dropped.
func seedDeliveries(t *testing.T, s *store.Store, f *storetest.Fixture) {
	t.Helper()
	ctx := context.Background()
	put := func(d *store.Delivery) {
		t.Helper()
		if _, err := s.InsertDelivery(ctx, s.DB(), d, 1, nil); err != nil {
			t.Fatal(err)
		}
	}
	// The webhooks they are for: a delivery of an event is found by its
	// id, which names the webhook and the event.
	for _, id := range []string{"W1", "W2"} {
		if err := s.CreateWebhook(ctx, &collector.Webhook{ID: id, URL: "https://crm.example/" + id,
			Events: []string{"business:*"}, Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []string{f.E1, f.E2, f.E3, f.E4, f.E5, f.E6, f.E7, f.E8, f.E9} {
		put(&store.Delivery{ID: "msg_W1_" + e, WebhookID: "W1", Type: "business:Order", EventID: e, CreatedAt: 1})
	}
	put(&store.Delivery{ID: "msg_W2_" + f.E1, WebhookID: "W2", Type: "SignIn", EventID: f.E1, CreatedAt: 1})
	if err := s.DeliveryDone(ctx, "msg_W2_"+f.E1, 2); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []collector.Subject{
		{Kind: collector.SubjectIdentity, ID: f.Alice}, {Kind: collector.SubjectIdentity, ID: f.Bob},
		{Kind: collector.SubjectVisitor, ID: f.VisitorA}, {Kind: collector.SubjectVisitor, ID: f.VisitorB},
		{Kind: collector.SubjectVisitor, ID: f.VisitorC},
	} {
		body, _ := json.Marshal(map[string]any{"type": collector.WebhookVisitorDataChanged, "timestamp": "2026-11-20T10:00:00Z",
			"data": map[string]any{"subject": sub.Key(), "version": 1, "data": map[string]any{"crm": map[string]any{"secret": "of " + sub.Key()}}}})
		put(&store.Delivery{ID: "msg_vd_" + sub.Key(), WebhookID: "W1", Type: collector.WebhookVisitorDataChanged, Body: body, CreatedAt: 1})
	}
	put(&store.Delivery{ID: "msg_vd_settled", WebhookID: "W1", Type: collector.WebhookVisitorDataChanged, CreatedAt: 1})
	if err := s.DeliveryDone(ctx, "msg_vd_settled", 2); err != nil {
		t.Fatal(err)
	}
}

// deliveryIDs lists the outbox's delivery ids, sorted.
func deliveryIDs(t *testing.T, s *store.Store) []string {
	t.Helper()
	rows, err := s.DB().Query(`SELECT delivery_id FROM webhook_deliveries ORDER BY delivery_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

func wantDeliveries(t *testing.T, what string, s *store.Store, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := deliveryIDs(t, s); !slices.Equal(got, want) {
		t.Errorf("%s: deliveries left %v, want %v", what, got, want)
	}
}

// An erased person's pending deliveries go with them: those of their
// events, settled or not, and the visitorData.changed copies of their
// documents; everyone else's stay. On D1 too, and after a crash between
// any two statements and a rerun.
func TestErasureTakesWebhookDeliveries(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]store.Option{"sqlite": nil, "d1-like": {store.WithoutTransactions()}} {
		s := storetest.New(t, opts...)
		f := storetest.Seed(t, s)
		seedDeliveries(t, s, f)

		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		// Browser B (E8), Bob's claim on browser C (E9), and their data.
		afterAlice := []string{"msg_W1_" + f.E8, "msg_W1_" + f.E9, "msg_vd_identity:" + f.Bob,
			"msg_vd_visitor:" + f.VisitorB, "msg_vd_visitor:" + f.VisitorC, "msg_vd_settled"}
		wantDeliveries(t, name+", Alice erased", s, afterAlice...)

		if err := s.DeleteVisitor(ctx, f.VisitorB, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		wantDeliveries(t, name+", browser B erased", s, "msg_W1_"+f.E9, "msg_vd_identity:"+f.Bob,
			"msg_vd_visitor:"+f.VisitorC, "msg_vd_settled")
	}

	ref := storetest.New(t)
	f := storetest.Seed(t, ref)
	seedDeliveries(t, ref, f)
	if err := ref.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	want := deliveryIDs(t, ref)
	total, err := storetest.New(t).EraseIdentityPrefix(ctx, f.Alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < total; n++ {
		s := storetest.New(t, store.WithoutTransactions())
		seedDeliveries(t, s, storetest.Seed(t, s))
		if _, err := s.EraseIdentityPrefix(ctx, f.Alice, n); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatalf("after %d of %d statements: %v", n, total, err)
		}
		wantDeliveries(t, "a resumed erasure", s, want...)
	}
}

// Retention takes the deliveries of the expired visits' events, and only
// those.
func TestPurgeVisitsTakesWebhookDeliveries(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	seedDeliveries(t, s, f)
	before := deliveryIDs(t, s)

	gone, err := s.PurgeVisits(ctx, s.DB(), f.T0.Add(34*time.Minute), store.MaxPurgeBatch)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(gone, f.V1) {
		t.Fatalf("purged %v, want V1 (ended at 33 min) among them", gone)
	}
	// V1's events were E1…E3: their deliveries, pending and settled, go.
	var want []string
	for _, id := range before {
		if !slices.Contains([]string{"msg_W1_" + f.E1, "msg_W1_" + f.E2, "msg_W1_" + f.E3, "msg_W2_" + f.E1}, id) {
			want = append(want, id)
		}
	}
	for _, e := range []string{f.E1, f.E2, f.E3} {
		if storetest.Count(t, s, "events", "event_id = ?", e) != 0 {
			t.Fatalf("event %s of V1 not purged", e)
		}
	}
	wantDeliveries(t, "after retention", s, want...)
}

// putDataDelivery writes, as package webhook does, a pending
// visitorData.changed delivery holding a copy of subject's document.
func putDataDelivery(t *testing.T, s *store.Store, id string, subject collector.Subject) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"type": collector.WebhookVisitorDataChanged, "timestamp": "2026-11-20T10:00:00Z",
		"data": map[string]any{"subject": subject.Key(), "identityId": subject.ID, "version": 1,
			"data": map[string]any{"crm": map[string]any{"secret": "of " + subject.Key()}}}})
	if _, err := s.InsertDelivery(context.Background(), s.DB(), &store.Delivery{ID: id, WebhookID: "W1",
		Type: collector.WebhookVisitorDataChanged, Body: body, CreatedAt: 1}, 1, nil); err != nil {
		t.Fatal(err)
	}
}

// Merges move a person's history and documents into another identity;
// their copies waiting in the outbox stay under the merged-away subject.
// Erasing the identity that took them in takes those copies too, also of
// an identity merged into one that was merged into it (Carol into Bob,
// Bob into Alice). Dave, never merged, keeps his.
func TestErasureTakesMergedAwayDeliveries(t *testing.T) {
	ctx := context.Background()
	seed := func(t *testing.T, s *store.Store) *storetest.Fixture {
		t.Helper()
		f := storetest.Seed(t, s)
		carol, dave := storetest.ID(6, 3), storetest.ID(6, 4)
		for id, user := range map[string]string{carol: "carol@example.com", dave: "dave@example.com"} {
			storetest.InsertIdentity(t, s, &collector.Identity{IdentityID: id, UserID: user, FirstSeenAt: f.T0, LastSeenAt: f.T0})
		}
		if err := s.CreateWebhook(ctx, &collector.Webhook{ID: "W1", URL: "https://crm.example/W1", Events: []string{collector.WebhookVisitorDataChanged},
			Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", CreatedAt: time.Unix(1, 0)}); err != nil {
			t.Fatal(err)
		}
		for name, id := range map[string]string{"alice": f.Alice, "bob": f.Bob, "carol": carol, "dave": dave} {
			putDataDelivery(t, s, "msg_vd_"+name, collector.Subject{Kind: collector.SubjectIdentity, ID: id})
		}
		m := store.NewMerger(s, store.NewVisitorData(s))
		for _, pair := range [][2]string{{f.Bob, carol}, {f.Alice, f.Bob}} {
			if _, err := m.MergeIdentities(ctx, pair[0], pair[1], collector.MergeOptions{TokenID: "T1"}); err != nil {
				t.Fatal(err)
			}
		}
		wantDeliveries(t, "after the merges", s, "msg_vd_alice", "msg_vd_bob", "msg_vd_carol", "msg_vd_dave")
		return f
	}
	for name, opts := range map[string][]store.Option{"sqlite": nil, "d1-like": {store.WithoutTransactions()}} {
		s := storetest.New(t, opts...)
		f := seed(t, s)
		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		wantDeliveries(t, name+", Alice erased", s, "msg_vd_dave")
	}

	// A D1 erasure stopped after any statement and run again.
	ref := storetest.New(t)
	f := seed(t, ref)
	total, err := ref.EraseIdentityPrefix(ctx, f.Alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < total; n++ {
		s := storetest.New(t, store.WithoutTransactions())
		f := seed(t, s)
		if _, err := s.EraseIdentityPrefix(ctx, f.Alice, n); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatalf("after %d of %d statements: %v", n, total, err)
		}
		wantDeliveries(t, "a resumed erasure", s, "msg_vd_dave")
	}
}

// The deliveries an older collector wrote, before the outbox had a
// subject column, are found by it after the upgrade: the column is read
// from the body they already hold.
func TestMigrationGivesOldDeliveriesTheirSubject(t *testing.T) {
	ctx := context.Background()
	db := databaseBefore(t, "0013_delivery_subject.sql")
	visitor := storetest.ID(1, 1)
	body := `{"type":"visitorData.changed","timestamp":"2026-11-20T10:00:00Z","data":{"subject":"visitor:` + visitor +
		`","visitorId":"` + visitor + `","version":1,"data":{"crm":{"secret":"old"}}}}`
	for _, q := range []string{
		`INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES ('` + visitor + `', 1, 1)`,
		`INSERT INTO webhook_deliveries (delivery_id, webhook_id, type, body, created_at, next_at)
			VALUES ('msg_old', 'W1', 'visitorData.changed', '` + body + `', 1, 1),
				('msg_settled', 'W1', 'visitorData.changed', '', 1, NULL),
				('msg_W1_E1', 'W1', 'SignIn', '', 1, 1)`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	s := store.New(db)
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, s, "webhook_deliveries", "subject = ?", "visitor:"+visitor); n != 1 {
		t.Fatalf("%d deliveries with the visitor's subject after the migration, want 1", n)
	}
	if n := storetest.Count(t, s, "webhook_deliveries", "subject IS NULL"); n != 2 {
		t.Errorf("%d deliveries without a subject (settled, or of an event), want 2", n)
	}
	if err := s.DeleteVisitor(ctx, visitor, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	wantDeliveries(t, "after erasing the visitor", s, "msg_W1_E1", "msg_settled")
}
