package store_test

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// counts returns the number of rows of every table an erasure reaches.
func counts(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	m := map[string]int{}
	for _, table := range storetest.Tables() {
		m[table] = storetest.Count(t, s, table, "")
	}
	return m
}

// mentions counts the rows anywhere that still refer to one of ids, in
// any id column or visitor-data subject.
func mentions(t *testing.T, s *store.Store, ids ...string) int {
	t.Helper()
	cols := map[string][]string{
		"visitors":          {"visitor_id"},
		"visits":            {"visit_id", "visitor_id", "identity_id", "session_id"},
		"sessions":          {"session_id", "visit_id", "identity_id"},
		"pages":             {"page_id", "visit_id"},
		"events":            {"event_id", "visit_id", "visitor_id", "session_id", "identity_id", "page_id"},
		"identities":        {"identity_id"},
		"identity_visitors": {"identity_id", "visitor_id"},
		"visit_identities":  {"visit_id", "identity_id"},
		"visit_metadata":    {"visit_id"},
	}
	n := 0
	for _, id := range ids {
		for table, cs := range cols {
			for _, c := range cs {
				n += storetest.Count(t, s, table, c+" = ?", id)
			}
		}
		n += storetest.Count(t, s, "visitor_data", "subject IN (?, ?)", "identity:"+id, "visitor:"+id)
	}
	return n
}

func TestDeleteIdentity(t *testing.T) {
	for _, opts := range map[string][]store.Option{"sqlite": nil, "d1-like": {store.WithoutTransactions()}} {
		ctx := context.Background()
		s := storetest.New(t, opts...)
		f := storetest.Seed(t, s)

		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		alice := []string{f.Alice, f.VisitorA, f.V1, f.V2, f.V3, f.S1, f.S2a, f.S2b, f.S3,
			f.P1, f.P2, f.P3, f.E1, f.E2, f.E3, f.E4, f.E5, f.E6, f.E7}
		if n := mentions(t, s, alice...); n != 0 {
			t.Errorf("%d rows still mention Alice's data", n)
		}
		if n := storetest.Count(t, s, "identities", "user_id = ?", f.AliceUser); n != 0 {
			t.Errorf("identity of %s still stored", f.AliceUser)
		}
		// Everyone else's data is untouched: browser B (V4) and Bob (V5).
		want := map[string]int{"visitors": 2, "visits": 2, "sessions": 2, "pages": 1, "events": 2, "identities": 1,
			"identity_visitors": 0, "visit_identities": 1, "visitor_data": 2, "visit_metadata": 1}
		if got := counts(t, s); !maps.Equal(got, want) {
			t.Errorf("rows left %v, want %v", got, want)
		}
		err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{})
		if collector.ErrorCode(err) != collector.ENOTFOUND {
			t.Errorf("second erasure: %v, want ENOTFOUND", err)
		}
	}
}

func TestDeleteIdentitySharedBrowser(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	// Bob signs in on Alice's browser A in a visit V6, and also used it
	// anonymously in V7 after signing out: no identity linked to V7.
	bobVisit, anonVisit := storetest.ID(2, 6), storetest.ID(2, 7)
	storetest.Exec(t, s, `INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) VALUES (?, ?, ?)`, f.Bob, f.VisitorA, 0)
	storetest.InsertVisit(t, s, &collector.Visit{VisitID: bobVisit, VisitorID: f.VisitorA, IdentityID: &f.Bob, SessionID: storetest.ID(3, 7),
		State: "authenticated", Verified: true, StartedAt: f.T0.Add(4 * time.Hour), LastSeenAt: f.T0.Add(4 * time.Hour)})
	storetest.LinkVisit(t, s, bobVisit, &collector.VisitIdentity{IdentityID: f.Bob, How: collector.LinkAuthenticated, Verified: true, LinkedAt: f.T0.Add(4 * time.Hour)})
	storetest.InsertEvent(t, s, &collector.Event{EventID: storetest.ID(5, 20), VisitID: bobVisit, VisitorID: f.VisitorA,
		SessionID: storetest.ID(3, 7), IdentityID: &f.Bob, Name: "SignIn", Category: "system", CorrectedAt: f.T0.Add(4 * time.Hour)})
	storetest.InsertVisit(t, s, &collector.Visit{VisitID: anonVisit, VisitorID: f.VisitorA, SessionID: storetest.ID(3, 8),
		StartedAt: f.T0.Add(5 * time.Hour), LastSeenAt: f.T0.Add(5 * time.Hour)})

	if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := mentions(t, s, f.Alice, f.V1, f.V2, f.V3, f.E1, f.E7, anonVisit); n != 0 {
		t.Errorf("%d rows still mention Alice's visits", n)
	}
	// Bob's visit on the shared browser, and the browser itself, stay.
	if storetest.Count(t, s, "visits", "visit_id = ?", bobVisit) != 1 ||
		storetest.Count(t, s, "events", "visit_id = ?", bobVisit) != 1 ||
		storetest.Count(t, s, "visit_identities", "visit_id = ?", bobVisit) != 1 ||
		storetest.Count(t, s, "visitors", "visitor_id = ?", f.VisitorA) != 1 ||
		storetest.Count(t, s, "identity_visitors", "identity_id = ? AND visitor_id = ?", f.Bob, f.VisitorA) != 1 {
		t.Error("Bob's data on the shared browser was erased with Alice")
	}
}

// TestDeleteIdentityResumes stops the erasure after every statement, as a
// crash on D1 would, and checks that running it again finishes the job.
func TestDeleteIdentityResumes(t *testing.T) {
	ctx := context.Background()
	ref := storetest.New(t)
	f := storetest.Seed(t, ref)
	if err := ref.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	want := counts(t, ref)

	total, err := storetest.New(t).EraseIdentityPrefix(ctx, f.Alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < total; n++ {
		s := storetest.New(t)
		storetest.Seed(t, s)
		if _, err := s.EraseIdentityPrefix(ctx, f.Alice, n); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatalf("after %d of %d statements: %v", n, total, err)
		}
		if got := counts(t, s); !maps.Equal(got, want) {
			t.Errorf("after %d of %d statements and a rerun: %v, want %v", n, total, got, want)
		}
	}
}

func TestDeleteVisitor(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)

	if err := s.DeleteVisitor(ctx, f.VisitorB, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := mentions(t, s, f.VisitorB, f.V4, f.S4, f.P4, f.E8); n != 0 {
		t.Errorf("%d rows still mention browser B", n)
	}
	want := map[string]int{"visitors": 2, "visits": 4, "sessions": 5, "pages": 3, "events": 8, "identities": 2,
		"identity_visitors": 1, "visit_identities": 4, "visitor_data": 3, "visit_metadata": 2}
	if got := counts(t, s); !maps.Equal(got, want) {
		t.Errorf("rows left %v, want %v", got, want)
	}
	err := s.DeleteVisitor(ctx, f.VisitorB, collector.EraseOptions{})
	if collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Errorf("second erasure: %v, want ENOTFOUND", err)
	}

	// Erasing Alice's browser takes its visits and links; the identity
	// and its own visitor data stay.
	if err := s.DeleteVisitor(ctx, f.VisitorA, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := mentions(t, s, f.VisitorA, f.V1, f.V2, f.V3, f.E1, f.E7); n != 0 {
		t.Errorf("%d rows still mention browser A", n)
	}
	if storetest.Count(t, s, "identities", "identity_id = ?", f.Alice) != 1 ||
		storetest.Count(t, s, "visitor_data", "subject = ?", "identity:"+f.Alice) != 1 {
		t.Error("the identity itself must stay")
	}
}

func TestDeleteVisitorResumes(t *testing.T) {
	ctx := context.Background()
	ref := storetest.New(t)
	f := storetest.Seed(t, ref)
	if err := ref.DeleteVisitor(ctx, f.VisitorA, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	want := counts(t, ref)
	total, err := storetest.New(t).EraseVisitorPrefix(ctx, f.VisitorA, 0)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n < total; n++ {
		s := storetest.New(t, store.WithoutTransactions())
		storetest.Seed(t, s)
		if _, err := s.EraseVisitorPrefix(ctx, f.VisitorA, n); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteVisitor(ctx, f.VisitorA, collector.EraseOptions{}); err != nil {
			t.Fatalf("after %d of %d statements: %v", n, total, err)
		}
		if got := counts(t, s); !maps.Equal(got, want) {
			t.Errorf("after %d of %d statements and a rerun: %v, want %v", n, total, got, want)
		}
	}
}

func TestDeleteUnknown(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	storetest.Seed(t, s)
	if err := s.DeleteIdentity(ctx, storetest.ID(6, 99), collector.EraseOptions{}); collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Errorf("identity: %v", err)
	}
	if err := s.DeleteVisitor(ctx, storetest.ID(1, 99), collector.EraseOptions{}); collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Errorf("visitor: %v", err)
	}
}
