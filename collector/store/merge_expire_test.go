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

// wantGone checks that undoing merge id, dry run or not, answers EGONE
// saying why, and writes nothing.
func (r *mergeRig) wantGone(t *testing.T, id string) {
	t.Helper()
	was := r.dump(t)
	for _, dry := range []bool{true, false} {
		_, err := r.m.UndoMerge(context.Background(), id, collector.MergeOptions{DryRun: dry})
		if collector.ErrorCode(err) != collector.EGONE || !strings.Contains(collector.ErrorMessage(err), "can be undone for 30 days after it finishes") {
			t.Errorf("undo of %s (dry run %v): %v, want EGONE saying the limit", id, dry, err)
		}
	}
	if r.dump(t) != was {
		t.Error("an undo past its limit wrote")
	}
}

// expireAll runs ExpireMergeUndos in batches of batch until a call does
// less than a batch, and returns the calls.
func (r *mergeRig) expireAll(t *testing.T, limit time.Duration, batch int) int {
	t.Helper()
	for calls := 1; calls < 100; calls++ {
		n, err := r.s.ExpireMergeUndos(context.Background(), r.s.DB(), r.now.Add(-limit), batch)
		if err != nil {
			t.Fatal(err)
		}
		if n < batch {
			return calls
		}
	}
	t.Fatal("ExpireMergeUndos never caught up")
	return 0
}

// A merge can be undone until the undo limit after it finished; from then
// on the undo answers EGONE, before the maintenance job came round and
// after, and the job deletes what the merges past it recorded they moved
// (personal data) in bounded batches, marking them no longer undoable. A
// later merge keeps its record and can still be undone.
func TestMergeUndoLimit(t *testing.T) {
	ctx := context.Background()
	const limit = 30 * 24 * time.Hour
	r := newMergeRig(t)
	r.m.WithUndoLimit(limit)
	rec := r.mergeBob(t)
	carol := storetest.Count(t, r.s, "identity_merges", "from_identity_id = ?", r.Carol)
	dave := storetest.ID(6, 4)
	r.now = r.now.Add(10 * 24 * time.Hour)
	storetest.InsertIdentity(t, r.s, &collector.Identity{IdentityID: dave, UserID: "dave@example.com", FirstSeenAt: r.T0, LastSeenAt: r.T0})
	storetest.Exec(t, r.s, `INSERT INTO visitor_data (subject, version, data, updated_at) VALUES (?, 1, '{"pets":{"dog":true}}', 0)`, "identity:"+dave)
	later, err := r.m.MergeIdentities(ctx, r.Alice, dave, collector.MergeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	daveMoves := storetest.Count(t, r.s, "identity_merge_moves", "merge_id = ?", later.MergeID)

	// A moment before the limit, the undo may go ahead; the job finds
	// nothing to do.
	r.now = rec.FinishedAt.Add(limit - time.Millisecond)
	if dry, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{DryRun: true}); err == nil {
		t.Errorf("an undo just before the limit is refused by its dry run: %+v", dry)
	} else if !strings.Contains(err.Error(), "came after this one") { // Dave's merge into Alice came after
		t.Errorf("dry run just before the limit: %v", err)
	}
	if n, err := r.s.ExpireMergeUndos(ctx, r.s.DB(), r.now.Add(-limit), 10); err != nil || n != 0 {
		t.Fatalf("the job before the limit: %d, %v", n, err)
	}

	// At the limit: gone, though the job has not run yet.
	r.now = rec.FinishedAt.Add(limit)
	moves := storetest.Count(t, r.s, "identity_merge_moves", "merge_id = ?", rec.MergeID)
	if moves == 0 {
		t.Fatal("the merge recorded nothing")
	}
	r.wantGone(t, rec.MergeID)

	// The job: in batches of 5, Bob's and Carol's merges (both finished
	// at T0) lose their records; Dave's, 10 days younger, keeps its.
	if calls := r.expireAll(t, limit, 5); calls < 2 {
		t.Errorf("the job deleted %d rows in %d call: not in batches", moves, calls)
	}
	if n := storetest.Count(t, r.s, "identity_merge_moves", "merge_id <> ?", later.MergeID); n != 0 {
		t.Errorf("%d rows of expired merges left", n)
	}
	if n := storetest.Count(t, r.s, "identity_merge_moves", "merge_id = ?", later.MergeID); n != daveMoves || n == 0 {
		t.Errorf("Dave's merge keeps %d of its %d rows", n, daveMoves)
	}
	if n := storetest.Count(t, r.s, "identity_merges", "undo_expired_at IS NOT NULL"); n != 1+carol {
		t.Errorf("%d merges marked expired, want Bob's and Carol's", n)
	}
	// Carol's merge into Bob is Alice's now: Bob's merge re-keyed it.
	merges, _, err := r.m.FindMerges(ctx, r.Alice, collector.ListOptions{})
	if err != nil || len(merges) != 3 {
		t.Fatalf("Alice's merges: %+v, %v", merges, err)
	}
	for _, m := range merges {
		if expired := m.UndoExpiredAt != nil; expired != (m.MergeID != later.MergeID) || m.State != collector.MergeDone {
			t.Errorf("merge of %s: state %s, undoExpiredAt %v", m.FromIdentityID, m.State, m.UndoExpiredAt)
		}
	}
	r.wantGone(t, rec.MergeID)

	// Dave's merge can still be undone, and once undone the job leaves
	// it alone.
	if _, err := r.m.UndoMerge(ctx, later.MergeID, collector.MergeOptions{}); err != nil {
		t.Fatalf("undo of the later merge: %v", err)
	}
	r.now = r.now.Add(limit)
	r.expireAll(t, limit, 5)
	if n := storetest.Count(t, r.s, "identity_merges", "undo_expired_at IS NOT NULL"); n != 1+carol {
		t.Errorf("%d merges marked expired after an undone one's time", n)
	}
}

// The mark alone refuses an undo (another node's job marked the merge,
// whatever this node's clock says), and an undo stopped halfway on D1
// before the limit is finished after it: the job leaves an undoing merge's
// record alone.
func TestMergeUndoLimitMarkAndHalfway(t *testing.T) {
	ctx := context.Background()
	const limit = 30 * 24 * time.Hour
	r := newMergeRig(t)
	rec := r.mergeBob(t)
	storetest.Exec(t, r.s, `UPDATE identity_merges SET undo_expired_at = 1 WHERE merge_id = ?`, rec.MergeID)
	r.wantGone(t, rec.MergeID)

	r = newMergeRig(t, store.WithoutTransactions())
	before := r.state(t)
	rec = r.mergeBob(t)
	dropCrash := storetest.Crash(t, r.s, "crash", "BEFORE UPDATE ON visits")
	if _, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{}); err == nil {
		t.Fatal("the undo did not crash")
	}
	dropCrash()
	r.now = r.now.Add(2 * limit)
	r.expireAll(t, limit, 5)
	if n := storetest.Count(t, r.s, "identity_merge_moves", "merge_id = ?", rec.MergeID); n == 0 {
		t.Fatal("the job deleted the record of an undo under way")
	}
	if undone, err := r.m.UndoMerge(ctx, rec.MergeID, collector.MergeOptions{}); err != nil || undone.State != collector.MergeUndone {
		t.Fatalf("finishing the undo after the limit: %+v, %v", undone, err)
	}
	if got := r.state(t); got != before {
		t.Errorf("after the undo:\n%s\nbefore the merge:\n%s", got, before)
	}
}
