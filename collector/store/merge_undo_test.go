package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// state is what an undo must put back, as text: every row a merge
// touches, documents without their versions (an undo writes a version
// past the merged one), and the merge records that stand.
func (r *mergeRig) state(t *testing.T) string {
	t.Helper()
	return rowsText(t, r.s,
		`SELECT event_id, coalesce(identity_id, '-') FROM events ORDER BY 1`,
		`SELECT session_id, coalesce(identity_id, '-') FROM sessions ORDER BY 1`,
		`SELECT visit_id, coalesce(identity_id, '-') FROM visits ORDER BY 1`,
		`SELECT visit_id, identity_id, how, verified, linked_at FROM visit_identities ORDER BY 1, 2`,
		`SELECT identity_id, visitor_id, linked_at FROM identity_visitors ORDER BY 1, 2`,
		`SELECT identity_id, user_id, attributes, first_seen_at, last_seen_at, coalesce(first_touch, ''), coalesce(last_touch, '') FROM identities ORDER BY 1`,
		`SELECT subject, data FROM visitor_data ORDER BY 1`,
		`SELECT user_id, identity_id, merge_id FROM identity_aliases ORDER BY 1`,
		`SELECT merge_id, identity_id, from_identity_id, state FROM identity_merges WHERE state <> 'undone' ORDER BY 1`,
	)
}

// mergeBob merges Bob (and Carol, merged into him before) into Alice.
func (r *mergeRig) mergeBob(t *testing.T) *collector.IdentityMerge {
	t.Helper()
	rec, err := r.m.MergeIdentities(context.Background(), r.Alice, r.Bob, collector.MergeOptions{TokenID: "tok-merge"})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// An undo puts both identities back as they were: history, links,
// aliases, Carol's merge record, attributes, times and documents; a dry
// run writes nothing; the merge can be undone once and made again.
func TestUndoMerge(t *testing.T) {
	ctx := context.Background()
	r := newMergeRig(t)
	before := r.state(t)
	rec := r.mergeBob(t)
	merged := r.dump(t)

	dry, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{DryRun: true, TokenID: "tok-undo"})
	if err != nil || dry.State != collector.MergeDryRun || dry.MergeID != rec.MergeID {
		t.Fatalf("dry run: %+v, %v", dry, err)
	}
	if r.dump(t) != merged {
		t.Fatal("a dry run wrote")
	}
	undone, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{TokenID: "tok-undo"})
	if err != nil {
		t.Fatal(err)
	}
	if undone.State != collector.MergeUndone || undone.UndoneAt == nil || undone.UndoneBy != "tok-undo" || undone.TokenID != "tok-merge" {
		t.Errorf("undone: %+v", undone)
	}
	if got := r.state(t); got != before {
		t.Errorf("after the undo:\n%s\nbefore the merge:\n%s", got, before)
	}
	if n := storetest.Count(t, r.s, "identity_merge_moves", "merge_id = ?", rec.MergeID); n != 0 {
		t.Errorf("%d snapshots of the merge left after its undo", n)
	}
	// The record stays, audited: listed with Alice's merges, undone.
	merges, _, err := r.m.FindMerges(ctx, r.Alice, collector.ListOptions{})
	if err != nil || len(merges) != 1 || merges[0].State != collector.MergeUndone || merges[0].UndoneBy != "tok-undo" {
		t.Errorf("Alice's merges after the undo: %+v, %v", merges, err)
	}
	// Bob's userId is his own again.
	if id, err := r.s.UpsertIdentity(ctx, r.s.DB(), storetest.ID(6, 50), r.BobUser, `{}`, 1); err != nil || id != r.Bob {
		t.Errorf("SignIn of Bob lands on %s, %v", id, err)
	}

	_, err = r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{})
	if collector.ErrorCode(err) != collector.ECONFLICT || !strings.Contains(collector.ErrorMessage(err), "undone already") {
		t.Errorf("undo again: %v", err)
	}
	_, err = r.m.UndoMerge(ctx, storetest.ID(7, 1), collector.MergeOptions{})
	wantCode(t, err, collector.ENOTFOUND)

	// Bob may be merged again, and that merge undone too.
	again := r.mergeBob(t)
	if _, err := r.m.UndoMerge(ctx, again.MergeID, collector.MergeOptions{}); err != nil {
		t.Fatalf("undo the second merge: %v", err)
	}

	// Erasing Bob takes the undone merges' records (they name his
	// userId); erasing Alice then lists no identity merged into her.
	if err := r.s.DeleteIdentity(ctx, r.Bob, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := storetest.Count(t, r.s, "identity_merges", "from_identity_id = ? OR from_user_id = ?", r.Bob, r.BobUser); n != 0 {
		t.Errorf("%d merge records still name Bob after his erasure", n)
	}
	if err := r.s.DeleteIdentity(ctx, r.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, e := range erasureRecords(t, r.s) {
		if e.SubjectID == r.Alice && len(e.MergedIdentityIDs) != 0 {
			t.Errorf("Alice's erasure lists merged identities %v", e.MergedIdentityIDs)
		}
	}
	if n := storetest.Count(t, r.s, "identity_merge_moves", ""); n != 0 {
		t.Errorf("%d merge snapshots left after both erasures", n)
	}
}

// What happened since a merge that its undo cannot put right makes it a
// conflict that names it, dry run or not, and nothing is written.
func TestUndoMergeConflicts(t *testing.T) {
	ctx := context.Background()
	dave := storetest.ID(6, 4)
	for _, tc := range []struct {
		name  string
		since func(t *testing.T, r *mergeRig)
		want  string
	}{
		{"later merge into it", func(t *testing.T, r *mergeRig) {
			storetest.InsertIdentity(t, r.s, &collector.Identity{IdentityID: dave, UserID: "dave@example.com", FirstSeenAt: r.T0, LastSeenAt: r.T0})
			if _, err := r.m.MergeIdentities(ctx, r.Alice, dave, collector.MergeOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "of identity " + dave + " into " + storetest.ID(6, 1) + " came after"},
		{"merged away since", func(t *testing.T, r *mergeRig) {
			storetest.InsertIdentity(t, r.s, &collector.Identity{IdentityID: dave, UserID: "dave@example.com", FirstSeenAt: r.T0, LastSeenAt: r.T0})
			if _, err := r.m.MergeIdentities(ctx, dave, r.Alice, collector.MergeOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "of identity " + storetest.ID(6, 1) + " into " + dave + " came after"}, // the merge re-keyed Bob's record to Dave
		{"signed in again", func(t *testing.T, r *mergeRig) {
			at := r.T0.Add(48 * time.Hour)
			storetest.InsertEvent(t, r.s, &collector.Event{EventID: storetest.ID(5, 80), VisitID: r.V3, VisitorID: r.VisitorA,
				SessionID: r.S3, IdentityID: &r.Alice, Name: "SignIn", Category: "system", Timestamp: at, CorrectedAt: at,
				ReceivedAt: at, Data: []byte(`{"userId":"bob@example.com"}`)})
		}, "signed in again since the merge (visit " + storetest.ID(2, 3) + ")"},
		{"browser erased", func(t *testing.T, r *mergeRig) {
			if err := r.s.DeleteVisitor(ctx, r.VisitorC, collector.EraseOptions{}); err != nil {
				t.Fatal(err)
			}
		}, "erased or expired since"},
		{"namespace changed", func(t *testing.T, r *mergeRig) {
			storetest.Exec(t, r.s, `UPDATE visitor_data SET data = '{"chat":{"open":false},"loyalty":{"tier":"gold"}}' WHERE subject = ?`, "identity:"+r.Alice)
		}, "namespace chat"},
		{"made before merges recorded", func(t *testing.T, r *mergeRig) {
			storetest.Exec(t, r.s, `UPDATE identity_merges SET recorded = 0`)
		}, "before merges recorded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newMergeRig(t)
			rec := r.mergeBob(t)
			tc.since(t, r)
			was := r.dump(t)
			for _, dry := range []bool{true, false} {
				_, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{DryRun: dry})
				if collector.ErrorCode(err) != collector.ECONFLICT || !strings.Contains(collector.ErrorMessage(err), tc.want) {
					t.Errorf("undo (dry run %v): %v, want ECONFLICT with %q", dry, err, tc.want)
				}
			}
			if r.dump(t) != was {
				t.Error("a refused undo wrote")
			}
		})
	}
}

// undoCrashPoints make one statement of the undo fail.
var undoCrashPoints = []string{
	"BEFORE UPDATE OF state ON identity_merges", "BEFORE INSERT ON identities", "BEFORE UPDATE OF identity_id ON identity_merges",
	"BEFORE UPDATE ON identity_aliases", "BEFORE DELETE ON identity_aliases",
	"BEFORE UPDATE ON events", "BEFORE UPDATE ON sessions", "BEFORE UPDATE ON visits",
	"BEFORE INSERT ON visit_identities", "BEFORE DELETE ON visit_identities", "BEFORE UPDATE ON visit_identities",
	"BEFORE INSERT ON identity_visitors", "BEFORE DELETE ON identity_visitors", "BEFORE UPDATE ON identity_visitors",
	"BEFORE INSERT ON visitor_data", "BEFORE UPDATE ON visitor_data", "BEFORE UPDATE ON identities",
	"BEFORE DELETE ON identity_merge_moves", "BEFORE UPDATE OF undone_at ON identity_merges",
}

// On SQLite an undo that fails anywhere changes nothing. Without
// transactions (D1) it stops halfway, the merge undoing; undoing again
// finishes it, to the state before the merge.
func TestUndoCrashHalfway(t *testing.T) {
	ctx := context.Background()
	eachCrashPoint(t, undoCrashPoints, func(t *testing.T, r *mergeRig, point string, d1 bool) {
		before := r.state(t)
		rec := r.mergeBob(t)
		merged := r.dump(t)
		dropCrash := storetest.Crash(t, r.s, "crash", point)
		_, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{TokenID: "tok"})
		dropCrash()
		if err == nil || !strings.Contains(err.Error(), "crash") {
			t.Fatalf("undo with a crash: %v", err)
		}
		if !d1 && r.dump(t) != merged {
			t.Fatal("a failed undo on SQLite left changes")
		}
		// Nothing else of Bob's may start meanwhile.
		if d1 {
			if _, err := r.m.MergeIdentities(ctx, r.Alice, r.Bob, collector.MergeOptions{}); collector.ErrorCode(err) != collector.ECONFLICT {
				t.Errorf("a merge of Bob during the undo: %v", err)
			}
		}
		undone, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{TokenID: "tok"})
		if err != nil || undone.State != collector.MergeUndone {
			t.Fatalf("undoing again: %+v, %v", undone, err)
		}
		if got := r.state(t); got != before {
			t.Errorf("after the rerun:\n%s\nbefore the merge:\n%s", got, before)
		}
		if n := storetest.Count(t, r.s, "identity_merge_moves", "merge_id = ?", rec.MergeID); n != 0 {
			t.Errorf("%d snapshots left", n)
		}
	})
}

// A merge stopped halfway on D1 and finished records what it moved all
// the same: its undo puts back the state before it.
func TestUndoResumedMerge(t *testing.T) {
	ctx := context.Background()
	for _, point := range crashPoints {
		t.Run(point, func(t *testing.T) {
			r := newMergeRig(t, store.WithoutTransactions())
			before := r.state(t)
			dropCrash := storetest.Crash(t, r.s, "crash", point)
			if _, err := r.m.MergeIdentities(ctx, r.Alice, r.Bob, collector.MergeOptions{}); err == nil {
				t.Fatal("the merge did not crash")
			}
			dropCrash()
			rec := r.mergeBob(t)
			if _, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{}); err != nil {
				t.Fatal(err)
			}
			if got := r.state(t); got != before {
				t.Errorf("after the undo:\n%s\nbefore the merge:\n%s", got, before)
			}
		})
	}
}
