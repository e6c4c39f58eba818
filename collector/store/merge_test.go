package store_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// mergeRig is the fixture plus what makes a merge of Bob into Alice
// interesting: Bob's own attributes and visitor-data namespace, a browser
// he shares with Alice, and Carol, merged into Bob earlier.
type mergeRig struct {
	*storetest.Fixture
	s     *store.Store
	m     *store.Merger
	Carol string
	// now is the store's clock: it stands still unless a test moves it.
	now time.Time
}

func newMergeRig(t *testing.T, opts ...store.Option) *mergeRig {
	t.Helper()
	r := &mergeRig{Carol: storetest.ID(6, 3), now: time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)}
	s := storetest.New(t, append([]store.Option{store.WithClock(func() time.Time { return r.now })}, opts...)...)
	f := storetest.Seed(t, s)
	r.Fixture, r.s, r.m = f, s, store.NewMerger(s, store.NewVisitorData(s))
	storetest.Exec(t, s, `UPDATE identities SET attributes = '{"plan":"silver","city":"Oslo"}', first_seen_at = 0 WHERE identity_id = ?`, f.Bob)
	storetest.Exec(t, s, `UPDATE visitor_data SET data = '{"loyalty":{"tier":"none"},"chat":{"open":true}}' WHERE subject = ?`, "identity:"+f.Bob)
	storetest.Exec(t, s, `INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) VALUES (?, ?, 5), (?, ?, 6)`,
		f.Bob, f.VisitorC, f.Bob, f.VisitorA)
	// Bob also claimed Alice's first visit, before she was stitched to it:
	// both link V1, his link is the stronger kind, hers the verified one.
	storetest.LinkVisit(t, s, f.V1, &collector.VisitIdentity{IdentityID: f.Bob, How: collector.LinkRecognized, LinkedAt: f.T0.Add(time.Minute)})
	storetest.InsertIdentity(t, s, &collector.Identity{IdentityID: r.Carol, UserID: "carol@example.com", FirstSeenAt: f.T0, LastSeenAt: f.T0})
	if _, err := r.m.MergeIdentities(context.Background(), f.Bob, r.Carol, collector.MergeOptions{TokenID: "tok-1"}); err != nil {
		t.Fatal(err)
	}
	return r
}

// dump is the state a merge of Bob into Alice changes, as text.
func (r *mergeRig) dump(t *testing.T) string {
	t.Helper()
	return rowsText(t, r.s,
		`SELECT event_id, coalesce(identity_id, '-') FROM events ORDER BY 1`,
		`SELECT session_id, coalesce(identity_id, '-') FROM sessions ORDER BY 1`,
		`SELECT visit_id, coalesce(identity_id, '-') FROM visits ORDER BY 1`,
		`SELECT visit_id, identity_id, how, verified, linked_at FROM visit_identities ORDER BY 1, 2`,
		`SELECT identity_id, visitor_id, linked_at FROM identity_visitors ORDER BY 1, 2`,
		`SELECT identity_id, user_id, attributes, first_seen_at, last_seen_at FROM identities ORDER BY 1`,
		`SELECT subject, version, data FROM visitor_data ORDER BY 1`,
		`SELECT user_id, identity_id FROM identity_aliases ORDER BY 1`,
		`SELECT identity_id, from_identity_id, from_user_id, token_id, state, moved, started_at, coalesce(finished_at, 0) FROM identity_merges ORDER BY 1, 2`,
	)
}

// eachCrashPoint runs fn in a subtest for every crash point (a statement
// made to fail: storetest.Crash), natively and without transactions
// (D1), each on a fresh rig.
func eachCrashPoint(t *testing.T, points []string, fn func(t *testing.T, r *mergeRig, point string, d1 bool)) {
	for _, point := range points {
		for _, d1 := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/d1=%v", point, d1), func(t *testing.T) {
				var opts []store.Option
				if d1 {
					opts = append(opts, store.WithoutTransactions())
				}
				fn(t, newMergeRig(t, opts...), point, d1)
			})
		}
	}
}

// rowsText runs the queries on s and writes their rows as text, a line a
// row and "--" after each query's: two states compare as strings.
func rowsText(t *testing.T, s *store.Store, queries ...string) string {
	t.Helper()
	var b strings.Builder
	for _, q := range queries {
		rows, err := s.DB().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%v\n", vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

func TestMergeIdentities(t *testing.T) {
	ctx := context.Background()
	r := newMergeRig(t)
	f, s := r.Fixture, r.s
	before := r.dump(t)

	dry, err := r.m.MergeIdentities(ctx, f.Alice, f.Bob, collector.MergeOptions{DryRun: true, TokenID: "tok-2"})
	if err != nil {
		t.Fatal(err)
	}
	want := collector.MergeCounts{Visits: 2, Sessions: 1, Events: 1, VisitLinks: 2, VisitorLinks: 2, VisitorDataNamespaces: 2}
	if dry.State != collector.MergeDryRun || dry.MergeID != "" || dry.Moved != want || dry.FromUserID != f.BobUser {
		t.Fatalf("dry run: %+v, want counts %+v", dry, want)
	}
	if after := r.dump(t); after != before {
		t.Fatalf("a dry run wrote:\n%s\nwas:\n%s", after, before)
	}

	rec, err := r.m.MergeIdentities(ctx, f.Alice, f.Bob, collector.MergeOptions{TokenID: "tok-2"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != collector.MergeDone || rec.Moved != want || rec.TokenID != "tok-2" || rec.FinishedAt == nil || rec.MergeID == "" {
		t.Fatalf("merge: %+v", rec)
	}

	// Bob's history is Alice's now.
	visits, _, err := s.FindIdentityVisits(ctx, f.Alice, collector.ListOptions{})
	if err != nil || !slices.Equal(visitIDs(visits), []string{f.V5, f.V3, f.V2, f.V1}) {
		t.Errorf("Alice's visits %v, %v", visitIDs(visits), err)
	}
	events, _, _ := s.FindEvents(ctx, collector.EventFilter{IdentityID: f.Alice})
	if ids := eventIDs(events); !slices.Contains(ids, f.E9) || len(ids) != 8 {
		t.Errorf("Alice's events %v", ids)
	}
	for _, e := range events {
		if e.EventID == f.E9 && (e.IdentityID == nil || *e.IdentityID != f.Alice) {
			t.Errorf("E9 carries identity %v", e.IdentityID)
		}
	}
	if n := storetest.Count(t, s, "sessions", "session_id = ? AND identity_id = ?", f.S5, f.Alice); n != 1 {
		t.Errorf("session S5 not Alice's")
	}
	links, _ := s.FindVisitIdentities(ctx, f.V5)
	if len(links) != 1 || links[0].IdentityID != f.Alice || links[0].How != collector.LinkRecognized || links[0].Verified {
		t.Errorf("V5's links: %+v", links)
	}
	// Where both were linked, one link stays: the stronger kind, verified
	// if either was, from the earlier time.
	links, _ = s.FindVisitIdentities(ctx, f.V1)
	if len(links) != 1 || links[0].IdentityID != f.Alice || links[0].How != collector.LinkRecognized || !links[0].Verified ||
		!links[0].LinkedAt.Equal(f.T0.Add(time.Minute)) {
		t.Errorf("V1's links: %+v", links)
	}
	alice, err := s.FindIdentity(ctx, f.Alice)
	if err != nil || string(alice.Attributes) != `{"plan":"gold","city":"Oslo"}` ||
		!slices.Equal(alice.VisitorIDs, []string{f.VisitorA, f.VisitorC}) || !alice.FirstSeenAt.Equal(time.UnixMilli(0)) {
		t.Errorf("Alice after the merge: %+v (attributes %s), %v", alice, alice.Attributes, err)
	}
	// Alice's namespace wins; Bob's other one joins it.
	vd, _ := store.NewVisitorData(s).GetVisitorData(ctx, collector.Subject{Kind: collector.SubjectIdentity, ID: f.Alice})
	if string(vd.Data) != `{"chat":{"open":true},"loyalty":{"tier":"gold"}}` || vd.Version != 2 {
		t.Errorf("Alice's visitor data v%d %s", vd.Version, vd.Data)
	}
	if n := storetest.Count(t, s, "visitor_data", "subject = ?", "identity:"+f.Bob); n != 0 {
		t.Errorf("Bob's document stays")
	}
	_, err = s.FindIdentity(ctx, f.Bob)
	wantCode(t, err, collector.ENOTFOUND)

	// Bob's and Carol's userIds resolve to Alice.
	for _, user := range []string{f.BobUser, "carol@example.com"} {
		id, err := s.UpsertIdentity(ctx, s.DB(), storetest.ID(6, 50), user, `{"seen":1}`, 1)
		if err != nil || id != f.Alice {
			t.Errorf("SignIn of %s lands on %s, %v; want Alice", user, id, err)
		}
		ids, _, _ := s.FindIdentities(ctx, user, collector.ListOptions{})
		if len(ids) != 1 || ids[0].IdentityID != f.Alice {
			t.Errorf("GET /v1/identities?userId=%s: %v", user, ids)
		}
	}
	if n := storetest.Count(t, s, "identities", ""); n != 1 {
		t.Errorf("%d identities, want Alice alone", n)
	}

	// Both merges it took in, Carol's (into Bob, before) too. They share a
	// millisecond here, so their order is the ids'.
	merges, _, err := r.m.FindMerges(ctx, f.Alice, collector.ListOptions{})
	if err != nil || len(merges) != 2 {
		t.Fatalf("Alice's merges: %+v, %v", merges, err)
	}
	byFrom := map[string]*collector.IdentityMerge{merges[0].FromIdentityID: merges[0], merges[1].FromIdentityID: merges[1]}
	if m := byFrom[f.Bob]; m == nil || m.MergeID != rec.MergeID || m.State != collector.MergeDone || m.Moved != want ||
		m.TokenID != "tok-2" || m.FromUserID != f.BobUser {
		t.Errorf("Bob's merge as listed: %+v", m)
	}
	if m := byFrom[r.Carol]; m == nil || m.TokenID != "tok-1" || m.IdentityID != f.Alice {
		t.Errorf("Carol's merge as listed: %+v", m)
	}
	if merges[0].MergeID < merges[1].MergeID {
		t.Errorf("merges not newest first: %s before %s", merges[0].MergeID, merges[1].MergeID)
	}

	// Refusals, each leaving everything as it is.
	done := r.dump(t)
	for _, tc := range []struct {
		name       string
		into, from string
		code, msg  string
	}{
		{"itself", f.Alice, f.Alice, collector.EINVALID, "itself"},
		{"again", f.Alice, f.Bob, collector.ECONFLICT, "already"},
		{"cycle", f.Bob, f.Alice, collector.ECONFLICT, "was merged into " + f.Alice},
		{"unknown from", f.Alice, storetest.ID(6, 99), collector.ENOTFOUND, "not found"},
		{"unknown into", storetest.ID(6, 99), f.Alice, collector.ENOTFOUND, "not found"},
	} {
		for _, dry := range []bool{true, false} {
			_, err := r.m.MergeIdentities(ctx, tc.into, tc.from, collector.MergeOptions{DryRun: dry})
			if collector.ErrorCode(err) != tc.code || !strings.Contains(collector.ErrorMessage(err), tc.msg) {
				t.Errorf("%s (dry run %v): %v, want %s with %q", tc.name, dry, err, tc.code, tc.msg)
			}
		}
	}
	if after := r.dump(t); after != done {
		t.Errorf("a refused merge wrote:\n%s", after)
	}

	// Erasing Alice takes the aliases and the merge records with her: the
	// old userIds start afresh.
	if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"identity_aliases", "identity_merges"} {
		if n := storetest.Count(t, s, table, ""); n != 0 {
			t.Errorf("%d rows left in %s after the erasure", n, table)
		}
	}
	if id, err := s.UpsertIdentity(ctx, s.DB(), storetest.ID(6, 51), f.BobUser, "{}", 1); err != nil || id != storetest.ID(6, 51) {
		t.Errorf("SignIn of Bob after the erasure: %s, %v; want a new identity", id, err)
	}
}

// A merge whose visitor data would not fit is refused before it writes.
func TestMergeRefusesDataThatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	r := newMergeRig(t)
	var doc strings.Builder
	doc.WriteString("{")
	for i := range 31 {
		fmt.Fprintf(&doc, `"ns%d":{},`, i)
	}
	doc.WriteString(`"loyalty":{}}`)
	storetest.Exec(t, r.s, `UPDATE visitor_data SET data = ? WHERE subject = ?`, doc.String(), "identity:"+r.Alice)
	before := r.dump(t)
	_, err := r.m.MergeIdentities(ctx, r.Alice, r.Bob, collector.MergeOptions{})
	if collector.ErrorCode(err) != collector.ECONFLICT || !strings.Contains(err.Error(), "chat") {
		t.Fatalf("merge: %v, want ECONFLICT naming chat", err)
	}
	if r.dump(t) != before {
		t.Errorf("the refused merge wrote")
	}
}

// crashPoints make one statement of the merge fail, as a crash there
// would: a trigger aborts it.
var crashPoints = []string{
	"BEFORE INSERT ON identity_aliases", "BEFORE UPDATE ON identity_aliases",
	"BEFORE UPDATE ON events", "BEFORE UPDATE ON sessions", "BEFORE UPDATE ON visits",
	"BEFORE INSERT ON visit_identities", "BEFORE DELETE ON visit_identities",
	"BEFORE INSERT ON identity_visitors", "BEFORE DELETE ON identity_visitors",
	"BEFORE UPDATE ON visitor_data", "BEFORE DELETE ON visitor_data",
	"BEFORE UPDATE ON identities", "BEFORE DELETE ON identities",
	"BEFORE UPDATE OF identity_id ON identity_merges", "BEFORE UPDATE OF state ON identity_merges",
}

// On SQLite a merge that fails anywhere changes nothing. Without
// transactions (D1) it stops halfway with every row in one of the two
// identities and the merge pending; running it again finishes it, to the
// same state as a merge that never failed.
func TestMergeCrashHalfway(t *testing.T) {
	ctx := context.Background()
	ref := newMergeRig(t, store.WithoutTransactions())
	if _, err := ref.m.MergeIdentities(ctx, ref.Alice, ref.Bob, collector.MergeOptions{TokenID: "tok"}); err != nil {
		t.Fatal(err)
	}
	want := ref.dump(t)
	eachCrashPoint(t, crashPoints, func(t *testing.T, r *mergeRig, point string, d1 bool) {
		before := r.dump(t)
		total := storetest.Count(t, r.s, "events", "identity_id IN (?, ?)", r.Alice, r.Bob)
		dropCrash := storetest.Crash(t, r.s, "crash", point)
		_, err := r.m.MergeIdentities(ctx, r.Alice, r.Bob, collector.MergeOptions{TokenID: "tok"})
		if err == nil || !strings.Contains(err.Error(), "crash") {
			t.Fatalf("merge with a crash: %v", err)
		}
		dropCrash()
		if !d1 {
			if got := r.dump(t); got != before {
				t.Fatalf("a failed merge on SQLite left changes:\n%s\nwas:\n%s", got, before)
			}
		} else {
			var state string
			if err := r.s.DB().QueryRow(`SELECT state FROM identity_merges WHERE from_identity_id = ?`, r.Bob).Scan(&state); err != nil || state != "pending" {
				t.Errorf("merge record %q, %v; want pending", state, err)
			}
			if n := storetest.Count(t, r.s, "events", "identity_id IN (?, ?)", r.Alice, r.Bob); n != total {
				t.Errorf("%d events with Alice or Bob, want %d", n, total)
			}
			if n := storetest.Count(t, r.s, "visit_identities", "visit_id = ? AND identity_id IN (?, ?)", r.V5, r.Alice, r.Bob); n == 0 {
				t.Errorf("V5 lost its identity link")
			}
			// Another merge of Bob is refused while this one is pending.
			if _, err := r.m.MergeIdentities(ctx, r.Carol, r.Bob, collector.MergeOptions{}); collector.ErrorCode(err) == "" {
				t.Errorf("a second merge of Bob went ahead")
			}
		}
		rec, err := r.m.MergeIdentities(ctx, r.Alice, r.Bob, collector.MergeOptions{TokenID: "tok"})
		if err != nil || rec.State != collector.MergeDone {
			t.Fatalf("running the merge again: %+v, %v", rec, err)
		}
		if got := r.dump(t); got != want {
			t.Errorf("after the rerun:\n%s\nwant:\n%s", got, want)
		}
	})
}

// Sweep re-keys what a writer with a stale cache filed under the merged
// identity after the merge: an event in one of its former visits.
func TestMergeSweep(t *testing.T) {
	ctx := context.Background()
	r := newMergeRig(t)
	rec, err := r.m.MergeIdentities(ctx, r.Alice, r.Bob, collector.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	late := storetest.ID(5, 77)
	storetest.InsertEvent(t, r.s, &collector.Event{EventID: late, VisitID: r.V5, VisitorID: r.VisitorC, SessionID: r.S5,
		IdentityID: &r.Bob, Name: "Late", Category: "business", Timestamp: r.T0, CorrectedAt: r.T0, ReceivedAt: r.T0,
		Data: []byte(`{}`)})
	storetest.Exec(t, r.s, `UPDATE sessions SET identity_id = ? WHERE session_id = ?`, r.Bob, r.S5)
	if err := r.m.Sweep(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, r.s, "events", "event_id = ? AND identity_id = ?", late, r.Alice); n != 1 {
		t.Errorf("the late event was not swept to Alice")
	}
	if n := storetest.Count(t, r.s, "sessions", "session_id = ? AND identity_id = ?", r.S5, r.Alice); n != 1 {
		t.Errorf("the late session change was not swept to Alice")
	}
}
