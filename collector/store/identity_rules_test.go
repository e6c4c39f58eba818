package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The rules of who is who that the store enforces in single statements
// (so that they hold on D1 too): one identity per user, a verified link is
// never downgraded, stitching takes only unclaimed visits, activity only
// moves forward.

func newVisit(t *testing.T, s *store.Store, visitorID string, at int64) *store.VisitState {
	t.Helper()
	v := &store.VisitState{VisitID: ulid.Make().String(), VisitorID: visitorID, SessionID: ulid.Make().String(),
		State: protocol.StateAnonymous, StartedAt: at, LastSeenAt: at}
	if err := s.CreateVisit(context.Background(), s.DB(), v, store.VisitOrigin{URL: "https://shop.example/"}); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestUpsertIdentityOnePerUser: a second SignIn of the same user finds the
// identity made by the first (not the new id it offers), merges the
// attributes, and never moves last_seen_at back.
func TestUpsertIdentityOnePerUser(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	first, second := ulid.Make().String(), ulid.Make().String()
	id, err := s.UpsertIdentity(ctx, s.DB(), first, "ada@example.com", `{"plan":"gold","tier":1}`, 2000)
	if err != nil || id != first {
		t.Fatalf("first upsert: %q %v, want %s", id, err, first)
	}
	id, err = s.UpsertIdentity(ctx, s.DB(), second, "ada@example.com", `{"plan":"silver","city":"Paris"}`, 1000)
	if err != nil || id != first {
		t.Fatalf("second upsert of the same user: %q %v, want the first identity %s", id, err, first)
	}
	if other, err := s.UpsertIdentity(ctx, s.DB(), second, "bob@example.com", "", 1500); err != nil || other != second {
		t.Fatalf("another user: %q %v, want %s", other, err, second)
	}
	var attrs string
	var last int64
	if err := s.DB().QueryRow(`SELECT attributes, last_seen_at FROM identities WHERE identity_id = ?`, first).Scan(&attrs, &last); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(attrs), &got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"plan": "silver", "tier": float64(1), "city": "Paris"}; !reflect.DeepEqual(got, want) || last != 2000 {
		t.Fatalf("attributes %s, last seen %d; want %v and 2000", attrs, last, want)
	}
}

// TestLinkIdentityNeverDowngrades: a link made by authentication, verified,
// stays so when a weaker link of the same identity follows; a weaker one
// is upgraded by authentication; the browser is linked once.
func TestLinkIdentityNeverDowngrades(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	v := newVisit(t, s, ulid.Make().String(), 1000)
	strong, weak := ulid.Make().String(), ulid.Make().String()
	link := func(id, how string, verified bool, at int64) {
		t.Helper()
		if err := s.LinkIdentity(ctx, s.DB(), v, id, how, verified, at); err != nil {
			t.Fatal(err)
		}
	}
	link(strong, "authenticated", true, 1000)
	link(strong, "recognized", false, 2000)
	link(weak, "claimed", false, 1000)
	link(weak, "recognized", true, 2000)
	link(weak, "authenticated", false, 3000)
	for id, want := range map[string]struct {
		how      string
		verified bool
	}{strong: {"authenticated", true}, weak: {"authenticated", true}} {
		var how string
		var verified bool
		if err := s.DB().QueryRow(`SELECT how, verified FROM visit_identities WHERE visit_id = ? AND identity_id = ?`,
			v.VisitID, id).Scan(&how, &verified); err != nil {
			t.Fatal(err)
		}
		if how != want.how || verified != want.verified {
			t.Errorf("link of %s: %s verified %v, want %s verified %v", id, how, verified, want.how, want.verified)
		}
	}
	if n := storetest.Count(t, s, "identity_visitors", "visitor_id = ?", v.VisitorID); n != 2 {
		t.Fatalf("%d identity_visitors rows, want one per identity", n)
	}
}

// TestStitchVisitsTakesOnlyUnclaimed: stitching gives an identity the
// visitor's earlier visits that no identity claims, not another
// identity's visits and not other visitors' visits.
func TestStitchVisitsTakesOnlyUnclaimed(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	visitor := ulid.Make().String()
	anon := newVisit(t, s, visitor, 1000)
	claimed := newVisit(t, s, visitor, 2000)
	stranger := newVisit(t, s, ulid.Make().String(), 3000)
	ada, eve := ulid.Make().String(), ulid.Make().String()
	if err := s.LinkIdentity(ctx, s.DB(), claimed, eve, "authenticated", true, 2000); err != nil {
		t.Fatal(err)
	}
	if err := s.StitchVisits(ctx, s.DB(), visitor, ada, 4000); err != nil {
		t.Fatal(err)
	}
	links := func(v *store.VisitState) map[string]string {
		rows, err := s.DB().Query(`SELECT identity_id, how || '/' || verified FROM visit_identities WHERE visit_id = ?`, v.VisitID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		m := map[string]string{}
		for rows.Next() {
			var id, how string
			if err := rows.Scan(&id, &how); err != nil {
				t.Fatal(err)
			}
			m[id] = how
		}
		return m
	}
	if got := links(anon); !reflect.DeepEqual(got, map[string]string{ada: "stitched/0"}) {
		t.Errorf("the anonymous visit: %v, want stitched to ada, unverified", got)
	}
	if got := links(claimed); !reflect.DeepEqual(got, map[string]string{eve: "authenticated/1"}) {
		t.Errorf("eve's visit: %v, want eve's alone", got)
	}
	if got := links(stranger); len(got) != 0 {
		t.Errorf("another visitor's visit: %v, want no link", got)
	}
}

// TestActivityMovesForward: TouchVisit never moves last_seen_at back,
// LastActivity sees events ingest has not touched the visit for yet, and
// IdleVisits lists open visits idle before the cut only.
func TestActivityMovesForward(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	v := newVisit(t, s, ulid.Make().String(), 1000)
	ended := newVisit(t, s, ulid.Make().String(), 1000)
	if _, err := s.EndVisit(ctx, s.DB(), ended, 1500); err != nil {
		t.Fatal(err)
	}
	for _, at := range []int64{3000, 2000} {
		if err := s.TouchVisit(ctx, s.DB(), v.VisitID, at, 0); err != nil {
			t.Fatal(err)
		}
	}
	loaded, err := s.LoadVisit(ctx, s.DB(), v.VisitID)
	if err != nil || loaded == nil || loaded.LastSeenAt != 3000 || loaded.EndedAt != 0 || loaded.VisitorID != v.VisitorID {
		t.Fatalf("after touches at 3000 and 2000: %+v %v", loaded, err)
	}
	if none, err := s.LoadVisit(ctx, s.DB(), ulid.Make().String()); none != nil || err != nil {
		t.Fatalf("LoadVisit of an unknown visit: %+v %v", none, err)
	}
	if at, err := s.LastActivity(ctx, s.DB(), v.VisitID); err != nil || at != 3000 {
		t.Fatalf("LastActivity %d %v, want 3000", at, err)
	}
	row := dedupRow(v, ulid.Make().String(), "Late", 5000)
	if _, _, err := s.InsertEvents(ctx, s.DB(), []store.EventRow{row}, nil); err != nil {
		t.Fatal(err)
	}
	if at, err := s.LastActivity(ctx, s.DB(), v.VisitID); err != nil || at != 5000 {
		t.Fatalf("LastActivity with an event at 5000: %d %v", at, err)
	}
	for before, want := range map[int64][]string{3000: nil, 3001: {v.VisitID}} {
		got, err := s.IdleVisits(ctx, s.DB(), before, 10)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("IdleVisits(before %d) = %v %v, want %v (never the ended visit)", before, got, err, want)
		}
	}
}

// TestSwitchSession: the current session ends where the next begins, and
// the visit takes the next session's identity, state and verification.
func TestSwitchSession(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	v := newVisit(t, s, ulid.Make().String(), 1000)
	first := v.SessionID
	ada := ulid.Make().String()
	next := store.VisitState{SessionID: ulid.Make().String(), IdentityID: ada, State: protocol.StateAuthenticated, Verified: true}
	if err := s.SwitchSession(ctx, s.DB(), v, next, 2000); err != nil {
		t.Fatal(err)
	}
	if v.SessionID != next.SessionID || v.IdentityID != ada || v.State != protocol.StateAuthenticated || !v.Verified {
		t.Fatalf("the visit in memory: %+v", v)
	}
	loaded, err := s.LoadVisit(ctx, s.DB(), v.VisitID)
	if err != nil || loaded.SessionID != next.SessionID || loaded.IdentityID != ada || loaded.State != protocol.StateAuthenticated || !loaded.Verified {
		t.Fatalf("the stored visit: %+v %v", loaded, err)
	}
	var firstEnd, nextEnd sql.NullInt64
	var nextID sql.NullString
	if err := s.DB().QueryRow(`SELECT ended_at FROM sessions WHERE session_id = ?`, first).Scan(&firstEnd); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().QueryRow(`SELECT ended_at, identity_id FROM sessions WHERE session_id = ?`, next.SessionID).Scan(&nextEnd, &nextID); err != nil {
		t.Fatal(err)
	}
	if firstEnd.Int64 != 2000 || nextEnd.Valid || nextID.String != ada {
		t.Fatalf("sessions: first ended %v, next ended %v with identity %v", firstEnd, nextEnd, nextID)
	}
}

// TestPageExitBeforeEntry: the beacon with PageExited may be stored before
// the WebSocket's PageEntered; either order leaves the page with its entry
// and its exit.
func TestPageExitBeforeEntry(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	v := newVisit(t, s, ulid.Make().String(), 1000)
	entry := store.PageRow{VisitID: v.VisitID, URL: "https://shop.example/cart", Title: "Cart", Referrer: "https://shop.example/", EnteredAt: 1000}
	exit := store.PageRow{VisitID: v.VisitID, URL: "https://shop.example/cart", EnteredAt: 1000, ExitedAt: 4000, DurationMS: 3000}
	for name, order := range map[string][]store.PageRow{"entry first": {entry, exit}, "exit first": {exit, entry}} {
		t.Run(name, func(t *testing.T) {
			id := ulid.Make().String()
			for _, p := range order {
				p.PageID = id
				if ok, err := s.UpsertPage(ctx, s.DB(), &p); err != nil || !ok {
					t.Fatalf("UpsertPage = %v, %v", ok, err)
				}
			}
			var title string
			var exited, duration sql.NullInt64
			if err := s.DB().QueryRow(`SELECT title, exited_at, duration_ms FROM pages WHERE page_id = ?`, id).
				Scan(&title, &exited, &duration); err != nil {
				t.Fatal(err)
			}
			if title != "Cart" || exited.Int64 != 4000 || duration.Int64 != 3000 {
				t.Fatalf("page: title %q, exited %v, duration %v", title, exited, duration)
			}
		})
	}
	// A stored row becomes a domain event with its identity, or none.
	row := dedupRow(v, ulid.Make().String(), "Browse", 2000)
	if e := row.Event(); e.IdentityID != nil || e.EventID != row.EventID || e.Timestamp.UnixMilli() != 2000 {
		t.Fatalf("anonymous row as an event: %+v", e)
	}
	row.IdentityID = "01JD0200000000000000000001"
	if e := row.Event(); e.IdentityID == nil || *e.IdentityID != row.IdentityID {
		t.Fatalf("identified row as an event: %+v", e)
	}
}
