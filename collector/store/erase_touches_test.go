package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// touchFixture is the Fixture with touches made by ingest's own
// LinkIdentity, every visit with a landing URL of its own (its id), and
// two more browsers:
//
//	browser A (Alice): V1 (0 min, with a campaign), V2 (1 h), V3 (2 h)
//	browser D (Alice): V6 at 150 min, stitched to her (unverified), and
//	                   V7 at 3 h where she signs in
//	browser A (Bob):   V8 at 4 h, where Bob signs in on Alice's computer
//
// Links in this order: V2 (Alice's first touch V1, the earliest visit of
// A), V7 (last V7), V3 (last V3), V8 (Bob's first touch V1 too, the
// earliest of A, and last V8).
type touchFixture struct {
	*storetest.Fixture
	VisitorD, V6, V7, V8 string
}

func seedTouches(t *testing.T, s *store.Store) *touchFixture {
	t.Helper()
	ctx := context.Background()
	f := &touchFixture{Fixture: storetest.Seed(t, s), VisitorD: storetest.ID(1, 4),
		V6: storetest.ID(2, 6), V7: storetest.ID(2, 7), V8: storetest.ID(2, 8)}
	at := func(d time.Duration) time.Time { return f.T0.Add(d) }
	storetest.InsertVisitor(t, s, f.VisitorD, at(150*time.Minute))
	for _, v := range []struct {
		id, visitor string
		identity    *string
		start       time.Duration
	}{{f.V6, f.VisitorD, nil, 150 * time.Minute}, {f.V7, f.VisitorD, &f.Alice, 3 * time.Hour}, {f.V8, f.VisitorA, &f.Bob, 4 * time.Hour}} {
		storetest.InsertVisit(t, s, &collector.Visit{VisitID: v.id, VisitorID: v.visitor, IdentityID: v.identity,
			SessionID: v.id, StartedAt: at(v.start), LastSeenAt: at(v.start)})
	}
	storetest.LinkVisit(t, s, f.V6, &collector.VisitIdentity{IdentityID: f.Alice, How: collector.LinkStitched, LinkedAt: at(3 * time.Hour)})
	storetest.Exec(t, s, `UPDATE visits SET landing_url = 'https://shop.example/landing-' || visit_id`)
	storetest.Exec(t, s, `UPDATE visits SET referrer = 'https://news.example/', referrer_type = 'email',
		utm = '{"source":"newsletter-v1"}' WHERE visit_id = ?`, f.V1)
	link := func(visit, visitor, identity string, d time.Duration) {
		t.Helper()
		v := &store.VisitState{VisitID: visit, VisitorID: visitor, IdentityID: identity}
		if err := s.LinkIdentity(ctx, s.DB(), v, identity, collector.LinkAuthenticated, true, at(d).UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	link(f.V2, f.VisitorA, f.Alice, 65*time.Minute)
	link(f.V7, f.VisitorD, f.Alice, 3*time.Hour)
	link(f.V3, f.VisitorA, f.Alice, 3*time.Hour+time.Minute)
	link(f.V8, f.VisitorA, f.Bob, 4*time.Hour)
	wantTouches(t, "as linked", s, f.Alice, f.V1, f.V3)
	wantTouches(t, "as linked", s, f.Bob, f.V1, f.V8)
	return f
}

// touchVisit returns the visit a stored touch was copied from (its landing
// URL names it), and "" for none.
func touchVisit(t *testing.T, raw sql.NullString) string {
	t.Helper()
	if !raw.Valid {
		return ""
	}
	var touch struct {
		LandingURL string `json:"landingUrl"`
	}
	if err := json.Unmarshal([]byte(raw.String), &touch); err != nil {
		t.Fatalf("touch %s: %v", raw.String, err)
	}
	return touch.LandingURL[len("https://shop.example/landing-"):]
}

// wantTouches checks which visits an identity's first and last touch were
// copied from ("" for none).
func wantTouches(t *testing.T, what string, s *store.Store, identityID, first, last string) {
	t.Helper()
	var f, l sql.NullString
	if err := s.DB().QueryRow(`SELECT first_touch, last_touch FROM identities WHERE identity_id = ?`, identityID).Scan(&f, &l); err != nil {
		t.Fatal(err)
	}
	if gf, gl := touchVisit(t, f), touchVisit(t, l); gf != first || gl != last {
		t.Errorf("%s: identity %s has touches of %q and %q, want %q and %q", what, identityID, gf, gl, first, last)
	}
}

// touchCopies counts the identities whose touches still hold the erased
// visit's campaign or landing URL.
func touchCopies(t *testing.T, s *store.Store, visitID string) int {
	t.Helper()
	return storetest.Count(t, s, "identities", "instr(coalesce(first_touch, '') || coalesce(last_touch, ''), ?) > 0 OR instr(coalesce(first_touch, '') || coalesce(last_touch, ''), ?) > 0",
		"landing-"+visitID, "newsletter-v1")
}

// Erasing a browser recomputes the touches its visits gave: from the
// identity's other browser when it has one, else none; the touches that
// came from other visits stay as they were.
func TestDeleteVisitorRecomputesTouches(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]store.Option{"sqlite": nil, "d1-like": {store.WithoutTransactions()}} {
		s := storetest.New(t, opts...)
		f := seedTouches(t, s)

		if err := s.DeleteVisitor(ctx, f.VisitorA, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		// Alice: first the stitched V6, the earliest she has left; last
		// V7, the latest verified. Bob has no visit left.
		wantTouches(t, name+", browser A erased", s, f.Alice, f.V6, f.V7)
		wantTouches(t, name+", browser A erased", s, f.Bob, "", "")
		if n := touchCopies(t, s, f.V1); n != 0 {
			t.Errorf("%s: %d identities still hold a copy of V1's landing URL or campaign", name, n)
		}

		if err := s.DeleteVisitor(ctx, f.VisitorD, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		wantTouches(t, name+", browser D erased too", s, f.Alice, "", "")
	}
}

// Erasing browser D, one of Alice's, leaves her touches alone: they came
// from browser A's visits, which stay.
func TestDeleteVisitorKeepsOtherTouches(t *testing.T) {
	s := storetest.New(t)
	f := seedTouches(t, s)
	before := func(id string) string {
		var f, l sql.NullString
		if err := s.DB().QueryRow(`SELECT first_touch, last_touch FROM identities WHERE identity_id = ?`, id).Scan(&f, &l); err != nil {
			t.Fatal(err)
		}
		return f.String + "|" + l.String
	}
	alice, bob := before(f.Alice), before(f.Bob)
	if err := s.DeleteVisitor(context.Background(), f.VisitorD, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if before(f.Alice) != alice || before(f.Bob) != bob {
		t.Error("erasing browser D, which gave no touch, changed a touch")
	}
}

// Erasing Alice takes her visits on the shared browser A, V1 among them:
// Bob's first touch, copied from V1 (the earliest visit of A), is
// recomputed from his own V8.
func TestDeleteIdentityRecomputesSharedTouches(t *testing.T) {
	ctx := context.Background()
	for name, opts := range map[string][]store.Option{"sqlite": nil, "d1-like": {store.WithoutTransactions()}} {
		s := storetest.New(t, opts...)
		f := seedTouches(t, s)
		if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
		wantTouches(t, name+", Alice erased", s, f.Bob, f.V8, f.V8)
		if n := touchCopies(t, s, f.V1); n != 0 {
			t.Errorf("%s: %d identities still hold a copy of V1's landing URL or campaign", name, n)
		}
	}
}

// A D1 erasure stopped after any statement and run again ends with the
// touches of one that ran at once.
func TestTouchErasureResumes(t *testing.T) {
	ctx := context.Background()
	type erasure struct {
		prefix  func(s *store.Store, f *touchFixture, n int) (int, error)
		full    func(s *store.Store, f *touchFixture) error
		bobFrom func(f *touchFixture) string // the visit Bob's touches come from after it
	}
	for name, e := range map[string]erasure{
		"visitor A": {
			prefix: func(s *store.Store, f *touchFixture, n int) (int, error) {
				return s.EraseVisitorPrefix(ctx, f.VisitorA, n)
			},
			full: func(s *store.Store, f *touchFixture) error {
				return s.DeleteVisitor(ctx, f.VisitorA, collector.EraseOptions{})
			},
			bobFrom: func(*touchFixture) string { return "" },
		},
		"identity Alice": {
			prefix: func(s *store.Store, f *touchFixture, n int) (int, error) {
				return s.EraseIdentityPrefix(ctx, f.Alice, n)
			},
			full: func(s *store.Store, f *touchFixture) error {
				return s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{})
			},
			bobFrom: func(f *touchFixture) string { return f.V8 },
		},
	} {
		ref := storetest.New(t)
		total, err := e.prefix(ref, seedTouches(t, ref), 0)
		if err != nil {
			t.Fatal(err)
		}
		for n := 1; n < total; n++ {
			s := storetest.New(t, store.WithoutTransactions())
			f := seedTouches(t, s)
			if _, err := e.prefix(s, f, n); err != nil {
				t.Fatal(err)
			}
			if err := e.full(s, f); err != nil {
				t.Fatalf("%s, after %d of %d statements: %v", name, n, total, err)
			}
			wantTouches(t, name+" resumed", s, f.Bob, e.bobFrom(f), e.bobFrom(f))
			if c := touchCopies(t, s, f.V1); c != 0 {
				t.Errorf("%s, resumed after %d statements: %d identities still hold a copy of V1", name, n, c)
			}
		}
	}
}

// Retention recomputes the touches its expired visits gave, in the same
// batch: Alice's first touch was V1 (ended at 33 min); V2 is now her
// earliest. Bob's first touch was V1 too; his own V8 is all he has left
// on A. The last touches came from visits that stay.
func TestPurgeVisitsRecomputesTouches(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := seedTouches(t, s)
	gone, err := s.PurgeVisits(ctx, s.DB(), f.T0.Add(34*time.Minute), store.MaxPurgeBatch)
	if err != nil {
		t.Fatal(err)
	}
	if len(gone) != 1 || gone[0] != f.V1 {
		t.Fatalf("purged %v, want V1 alone", gone)
	}
	wantTouches(t, "V1 expired", s, f.Alice, f.V2, f.V3)
	wantTouches(t, "V1 expired", s, f.Bob, f.V8, f.V8)
	if n := touchCopies(t, s, f.V1); n != 0 {
		t.Errorf("%d identities still hold a copy of V1's landing URL or campaign", n)
	}
}
