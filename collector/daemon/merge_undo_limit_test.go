package daemon_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/problem"
)

// TestUndoMergeLimitOverTheAPI: on a real collector, a merge that
// finished longer ago than --merge-undo-days can no longer be undone: the
// undo, dry run or not, answers 410 Gone saying why, at once; and once the
// maintenance job came round (at the start of a collector on the same
// data directory), what the merge moved is gone from the database, the
// merge lists with undoExpiredAt, and the undo still answers 410.
func TestUndoMergeLimitOverTheAPI(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--identity-secret", testSecret, "--rate-limit", "0", "--merge-undo-days", "7"}
	col := collectortest.StartIn(t, dir, flags...)
	alice, bob := newPerson("alice"), newPerson("bob")
	alice.seed(t, col, true)
	bob.seed(t, col, true)
	status, body := col.Do("POST", "/v1/identities/"+alice.identityID+"/merge", `{"from":"`+bob.identityID+`"}`)
	if status != 200 {
		t.Fatalf("merge: %d %s", status, body)
	}
	var rec collector.IdentityMerge
	json.Unmarshal(body, &rec)
	undo := "/v1/merges/" + rec.MergeID + "/undo"
	if status, body := col.Do("POST", undo+"?dryRun=true", nil); status != 200 {
		t.Fatalf("dry run within the limit: %d %s", status, body)
	}

	// Eight days on: the merge's finish moves back, in the database the
	// collector writes.
	st, closeStore, err := daemon.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	age := func(query string, args ...any) {
		t.Helper()
		if _, err := st.DB().ExecContext(context.Background(), query, args...); err != nil {
			t.Fatal(err)
		}
	}
	age(`UPDATE identity_merges SET finished_at = finished_at - ? WHERE merge_id = ?`, (8 * 24 * time.Hour).Milliseconds(), rec.MergeID)
	moves := func() (n int) {
		t.Helper()
		if err := st.DB().QueryRow(`SELECT count(*) FROM identity_merge_moves WHERE merge_id = ?`, rec.MergeID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if moves() == 0 {
		t.Fatal("the merge recorded nothing")
	}
	gone := func(when string) {
		t.Helper()
		for _, path := range []string{undo + "?dryRun=true", undo} {
			status, body := col.Do("POST", path, nil)
			var p problem.Details
			json.Unmarshal(body, &p)
			if status != http.StatusGone || p.Title != "Gone" || p.Code != collector.EGONE ||
				!strings.Contains(p.Detail, "can be undone for 7 days after it finishes (--merge-undo-days)") {
				t.Errorf("%s: POST %s: %d %s", when, path, status, body)
			}
		}
	}
	gone("past the limit, before the job")

	// The job runs a round as a collector starts.
	col.Stop()
	col = collectortest.StartIn(t, dir, flags...)
	deadline := time.Now().Add(30 * time.Second)
	for moves() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := moves(); n != 0 {
		t.Fatalf("%d rows of what the merge moved left after the job", n)
	}
	var merges struct {
		Items []collector.IdentityMerge `json:"items"`
	}
	col.Get("/v1/identities/"+alice.identityID+"/merges", &merges)
	if len(merges.Items) != 1 || merges.Items[0].UndoExpiredAt == nil || merges.Items[0].State != collector.MergeDone {
		t.Errorf("Alice's merges after the job: %+v", merges.Items)
	}
	gone("after the job")
}
