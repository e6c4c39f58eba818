package daemon_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
)

// answers is what the History and visitor-data APIs say of an identity,
// as JSON text; the document without its version (an undo writes a new
// one).
func answers(t *testing.T, col *collectortest.Collector, id string) string {
	t.Helper()
	var b strings.Builder
	for _, path := range []string{"", "/visits", "/events", "/merges"} {
		status, body := col.Do("GET", "/v1/identities/"+id+path, nil)
		fmt.Fprintf(&b, "%s %d %s\n", path, status, body)
	}
	status, body := col.Do("GET", "/v1/identities/"+id+"/visitor-data", nil)
	var vd struct {
		Data json.RawMessage `json:"data"`
	}
	json.Unmarshal(body, &vd)
	fmt.Fprintf(&b, "visitor-data %d %s\n", status, vd.Data)
	return b.String()
}

// TestUndoMergeOverTheAPI: on a real collector, a merge of Bob into
// Alice undone answers for both as before the merge, through the History
// and visitor-data APIs; a dry run changes nothing; Bob signing in again
// after a second merge makes its undo a 409 that says so. Erasing Alice
// then takes the merge's snapshots of Bob off the disk too.
func TestUndoMergeOverTheAPI(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--identity-secret", testSecret, "--rate-limit", "0")
	signIn := func(p *person) {
		t.Helper()
		page := collectortest.NewID()
		res := p.collect(t, col, collectortest.Event("PageEntered", page, nil), collectortest.Event("SignIn", page, map[string]string{
			"userId": p.userID, "userHash": identity.UserHash(testSecret, p.userID)}),
			collectortest.Event("Browse", page, map[string]string{"note": p.data}))
		if res.Identity == nil || res.Identity.IdentityID == nil {
			t.Fatalf("SignIn of %s: %+v", p.userID, res.Identity)
		}
		p.identityID = *res.Identity.IdentityID
	}
	alice, bob := newPerson("alice"), newPerson("bob")
	signIn(alice)
	signIn(bob)
	for p, body := range map[*person]string{alice: `{"tier":"gold"}`, bob: `{"open":true}`} {
		ns := map[*person]string{alice: "loyalty", bob: "chat"}[p]
		if status, b := col.Do("PUT", "/v1/identities/"+p.identityID+"/visitor-data/"+ns, body); status != 200 {
			t.Fatalf("PUT %s: %d %s", ns, status, b)
		}
	}
	beforeA, beforeB := answers(t, col, alice.identityID), answers(t, col, bob.identityID)

	status, body := col.Do("POST", "/v1/identities/"+alice.identityID+"/merge", `{"from":"`+bob.identityID+`"}`)
	if status != 200 {
		t.Fatalf("merge: %d %s", status, body)
	}
	var rec collector.IdentityMerge
	json.Unmarshal(body, &rec)
	mergedA := answers(t, col, alice.identityID)
	if mergedA == beforeA || !strings.Contains(mergedA, `"chat"`) {
		t.Fatalf("the merge changed nothing of Alice's:\n%s", mergedA)
	}
	undo := "/v1/merges/" + rec.MergeID + "/undo"
	if status, body := col.Do("POST", undo+"?dryRun=true", nil); status != 200 || !strings.Contains(string(body), `"state":"dryRun"`) {
		t.Fatalf("dry run: %d %s", status, body)
	}
	if got := answers(t, col, alice.identityID); got != mergedA {
		t.Errorf("the dry run changed Alice:\n%s\nwas:\n%s", got, mergedA)
	}
	status, body = col.Do("POST", undo, nil)
	if status != 200 || !strings.Contains(string(body), `"state":"undone"`) {
		t.Fatalf("undo: %d %s", status, body)
	}
	// Alice's merges list the undone merge: everything else answers as
	// before the merge.
	gotA := answers(t, col, alice.identityID)
	if got, want := strings.Split(gotA, "\n"), strings.Split(beforeA, "\n"); len(got) != len(want) {
		t.Fatalf("Alice after the undo:\n%s\nbefore:\n%s", gotA, beforeA)
	} else {
		for i := range got {
			if strings.HasPrefix(got[i], "/merges") {
				if !strings.Contains(got[i], `"state":"undone"`) {
					t.Errorf("Alice's merges after the undo: %s", got[i])
				}
				continue
			}
			if got[i] != want[i] {
				t.Errorf("Alice after the undo: %s\nbefore the merge: %s", got[i], want[i])
			}
		}
	}
	if got := answers(t, col, bob.identityID); got != beforeB {
		t.Errorf("Bob after the undo:\n%s\nbefore the merge:\n%s", got, beforeB)
	}
	if status, body := col.Do("POST", undo, nil); status != 409 || !strings.Contains(string(body), "undone already") {
		t.Errorf("undo again: %d %s", status, body)
	}

	// Merged again, and Bob signs in again since: the undo would leave
	// his new visit with Alice.
	status, body = col.Do("POST", "/v1/identities/"+alice.identityID+"/merge", `{"from":"`+bob.identityID+`"}`)
	if status != 200 {
		t.Fatalf("merge again: %d %s", status, body)
	}
	json.Unmarshal(body, &rec)
	bob.visitID = ""
	bob.collect(t, col, collectortest.Event("SignIn", "", map[string]string{
		"userId": bob.userID, "userHash": identity.UserHash(testSecret, bob.userID)}))
	status, body = col.Do("POST", "/v1/merges/"+rec.MergeID+"/undo", nil)
	if status != 409 || !strings.Contains(string(body), "signed in again since the merge (visit "+bob.visitID+")") {
		t.Errorf("undo after Bob signed in again: %d %s", status, body)
	}

	if status, body := col.Do("DELETE", "/v1/identities/"+alice.identityID, nil); status != 204 {
		t.Fatalf("erase Alice: %d %s", status, body)
	}
	col.Stop()
	for _, p := range []*person{alice, bob} {
		markers := p.markers()
		delete(markers, "IP") // these two came from no address of their own
		if found := scan(t, dir, markers); len(found) > 0 {
			t.Errorf("after erasing Alice: %s", strings.Join(found, "; "))
		}
	}
}
