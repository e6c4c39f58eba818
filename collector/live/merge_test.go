package live_test

import (
	"encoding/json"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// A page still open as the merged-away identity files its next events
// under the identity it was merged into, and is told so: the merge drops
// the ingest writer's cached visits, which still name the old identity.
func TestMergeReachesOpenVisits(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	signIn := func(user string) (*collectortest.Client, string) {
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		page := collectortest.NewID()
		_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, page, map[string]any{"userId": user, "userHash": identity.UserHash(testSecret, user)}))
		if id == nil || id.IdentityID == nil {
			t.Fatalf("SignIn of %s: %+v", user, id)
		}
		return c, *id.IdentityID
	}
	_, a := signIn("ada@example.com")
	tab, b := signIn("bea@example.com")
	// The writer has b's visit cached now.
	tab.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil))

	if status, body := col.Do("POST", "/v1/identities/"+a+"/merge", map[string]string{"from": b}); status != 200 {
		t.Fatalf("merge: %d %s", status, body)
	}
	// The page hears of its new identity with the ack of its next events.
	after := collectortest.Event("AddToCart", collectortest.NewID(), nil)
	if _, id := tab.SendEvents(true, after); id.IdentityID == nil || *id.IdentityID != a {
		t.Errorf("identity frame after the merge: %+v, want %s", id, a)
	}
	var e struct {
		Items []struct {
			EventID    string  `json:"eventId"`
			IdentityID *string `json:"identityId"`
		} `json:"items"`
	}
	col.Get("/v1/visits/"+tab.Welcome.VisitID+"/events?name=AddToCart", &e)
	if len(e.Items) != 1 || e.Items[0].IdentityID == nil || *e.Items[0].IdentityID != a {
		b, _ := json.Marshal(e)
		t.Fatalf("the open page's event after the merge: %s, want identity %s", b, a)
	}
}
