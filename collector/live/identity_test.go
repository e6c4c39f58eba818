package live_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// list is the REST API's list envelope.
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

type visit struct {
	VisitID    string     `json:"visitId"`
	VisitorID  string     `json:"visitorId"`
	IdentityID *string    `json:"identityId"`
	State      string     `json:"state"`
	Verified   bool       `json:"verified"`
	EndedAt    *time.Time `json:"endedAt"`
	LandingURL string     `json:"landingUrl"`
	PageCount  int        `json:"pageCount"`
	EventCount int        `json:"eventCount"`
}

type event struct {
	EventID    string         `json:"eventId"`
	Name       string         `json:"name"`
	Category   string         `json:"category"`
	SessionID  string         `json:"sessionId"`
	IdentityID *string        `json:"identityId"`
	VisitID    string         `json:"visitId"`
	Data       map[string]any `json:"data"`
}

type session struct {
	SessionID  string     `json:"sessionId"`
	IdentityID *string    `json:"identityId"`
	State      string     `json:"state"`
	Verified   bool       `json:"verified"`
	EndedAt    *time.Time `json:"endedAt"`
}

type visitIdentity struct {
	IdentityID string `json:"identityId"`
	UserID     string `json:"userId"`
	How        string `json:"how"`
	Verified   bool   `json:"verified"`
}

func names(evs []event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

func eq[T comparable](t *testing.T, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// TestIdentityStory walks docs/identity.md#visit-states: anonymous, SignIn, a new visit
// recognized through the token, SignOut.
func TestIdentityStory(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	visitor, visit1, page := collectortest.NewID(), collectortest.NewID(), collectortest.NewID()

	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit1, URL: "https://shop.example/"})
	eq(t, "welcome.visitId", c.Welcome.VisitID, visit1)
	eq(t, "welcome.visitorId", c.Welcome.VisitorID, visitor)
	eq(t, "welcome.state", c.Welcome.State, protocol.StateAnonymous)
	if c.Welcome.IdentityID != nil || c.Welcome.Recognition != nil {
		t.Fatalf("anonymous welcome has identity: %+v", c.Welcome)
	}

	started := collectortest.Event(protocol.EventVisitStarted, page, nil)
	entered := collectortest.Event(protocol.EventPageEntered, page, nil)
	ack, _ := c.SendEvents(false, started, entered)
	eq(t, "acked", len(ack.EventIDs), 2)

	signIn := collectortest.Event(protocol.EventSignIn, page, proven("ada@example.com", map[string]any{"plan": "gold"}))
	ack, id := c.SendEvents(true, signIn)
	eq(t, "acked", len(ack.EventIDs), 1)
	eq(t, "identity.state", id.State, protocol.StateAuthenticated)
	if !id.Verified || id.IdentityID == nil || id.Recognition == nil {
		t.Fatalf("SignIn answer = %+v, want verified identity with token", id)
	}
	token, identityID := *id.Recognition, *id.IdentityID
	buy := collectortest.Event("AddToCart", page, map[string]any{"sku": "B-42"})
	c.SendEvents(false, buy)

	var v visit
	col.Get("/v1/visits/"+visit1, &v)
	eq(t, "visit state", v.State, protocol.StateAuthenticated)
	eq(t, "visit verified", v.Verified, true)
	eq(t, "visit identity", *v.IdentityID, identityID)
	eq(t, "visit events", v.EventCount, 4)

	var sessions list[session]
	col.Get("/v1/visits/"+visit1+"/sessions", &sessions)
	eq(t, "sessions", len(sessions.Items), 2)
	eq(t, "first session state", sessions.Items[0].State, protocol.StateAnonymous)
	if sessions.Items[0].EndedAt == nil {
		t.Fatal("anonymous session not ended by SignIn")
	}
	eq(t, "second session state", sessions.Items[1].State, protocol.StateAuthenticated)

	var evs list[event]
	col.Get("/v1/visits/"+visit1+"/events", &evs)
	eq(t, "events", fmt.Sprint(names(evs.Items)), "[VisitStarted PageEntered SignIn AddToCart]")
	eq(t, "AddToCart session", evs.Items[3].SessionID, sessions.Items[1].SessionID)
	eq(t, "AddToCart identity", *evs.Items[3].IdentityID, identityID)
	eq(t, "AddToCart category", evs.Items[3].Category, protocol.CategoryBusiness)
	eq(t, "SignIn category", evs.Items[2].Category, protocol.CategorySystem)
	c.Conn.CloseNow()

	// A new visit of the same browser presents the token: recognized,
	// verified, and the collector records UserInfo itself.
	visit2 := collectortest.NewID()
	c2 := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitorKey: c.Welcome.VisitorKey, VisitID: visit2, Recognition: &token})
	eq(t, "welcome2.state", c2.Welcome.State, protocol.StateRecognized)
	eq(t, "welcome2.verified", c2.Welcome.Verified, true)
	eq(t, "welcome2.identity", *c2.Welcome.IdentityID, identityID)
	eq(t, "welcome2.recognition", *c2.Welcome.Recognition, token)
	col.Get("/v1/visits/"+visit2+"/events", &evs)
	eq(t, "visit2 events", fmt.Sprint(names(evs.Items)), "[UserInfo]")
	eq(t, "UserInfo via", evs.Items[0].Data["via"], any("recognition"))
	var links list[visitIdentity]
	col.Get("/v1/visits/"+visit2+"/identities", &links)
	eq(t, "visit2 links", len(links.Items), 1)
	eq(t, "visit2 link how", links.Items[0].How, "recognized")
	eq(t, "visit2 link user", links.Items[0].UserID, "ada@example.com")

	// SignOut: anonymous again, token to be deleted. (Times have
	// millisecond resolution; events of one millisecond are ordered by
	// eventId, so let the clock move past the UserInfo written at hello.)
	time.Sleep(2 * time.Millisecond)
	_, id = c2.SendEvents(true, collectortest.Event(protocol.EventSignOut, "", nil))
	eq(t, "signout state", id.State, protocol.StateAnonymous)
	if id.Recognition != nil || id.IdentityID != nil || id.Verified {
		t.Fatalf("SignOut answer = %+v", id)
	}
	c2.SendEvents(false, collectortest.Event("Browse", "", nil))
	col.Get("/v1/visits/"+visit2+"/events", &evs)
	eq(t, "visit2 events", fmt.Sprint(names(evs.Items)), "[UserInfo SignOut Browse]")
	if evs.Items[2].IdentityID != nil {
		t.Fatalf("event after SignOut has identity %s", *evs.Items[2].IdentityID)
	}
	col.Get("/v1/visits/"+visit2, &v)
	eq(t, "visit2 state", v.State, protocol.StateAnonymous)

	// The identity's history holds both visits.
	var ivs list[visit]
	col.Get("/v1/identities/"+identityID+"/visits", &ivs)
	eq(t, "identity visits", len(ivs.Items), 2)
}

// TestStitching: a visitor's anonymous visits before SignIn become the
// identity's history.
func TestStitching(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	visitor := collectortest.NewID()
	old := collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: old})
	c.SendEvents(false, collectortest.Event("Browse", "", nil))
	c.Conn.CloseNow()

	now := collectortest.NewID()
	c = collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitorKey: c.Welcome.VisitorKey, VisitID: now})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("grace", nil)))

	var ivs list[visit]
	col.Get("/v1/identities/"+*id.IdentityID+"/visits", &ivs)
	got := map[string]bool{}
	for _, v := range ivs.Items {
		got[v.VisitID] = true
	}
	if !got[old] || !got[now] || len(got) != 2 {
		t.Fatalf("identity visits = %v, want %s and %s", got, old, now)
	}
	var links list[visitIdentity]
	col.Get("/v1/visits/"+old+"/identities", &links)
	eq(t, "old visit link", links.Items[0].How, "stitched")

	var evs list[event]
	col.Get("/v1/identities/"+*id.IdentityID+"/events?name=Browse", &evs)
	eq(t, "stitched Browse events", len(evs.Items), 1)
}

// TestClaimIsUnverified: a bare UserInfo is a claim: recognized, not
// verified, and no token.
func TestClaimIsUnverified(t *testing.T) {
	col := collectortest.Start(t)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventUserInfo, "", map[string]any{"userId": "ada@example.com"}))
	eq(t, "state", id.State, protocol.StateRecognized)
	eq(t, "verified", id.Verified, false)
	if id.Recognition != nil {
		t.Fatal("a claim got a recognition token")
	}
	var v visit
	col.Get("/v1/visits/"+c.Welcome.VisitID, &v)
	eq(t, "visit state", v.State, protocol.StateRecognized)
	eq(t, "visit verified", v.Verified, false)
}

// TestUserHash: with --identity-secret only a matching userHash verifies;
// with --require-verified-signin the others are rejected in the ack.
func TestUserHash(t *testing.T) {
	const secret = "site-secret"
	t.Run("optional", func(t *testing.T) {
		col := collectortest.Start(t, "--identity-secret", secret)
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada", "userHash": "00ff"}))
		eq(t, "wrong hash state", id.State, protocol.StateAuthenticated)
		eq(t, "wrong hash verified", id.Verified, false)
		if id.Recognition == nil || id.IdentityID != nil {
			t.Fatalf("an unverified SignIn answered %+v, want an unverified token and no identityId", id)
		}
		_, id = c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada", "userHash": identity.UserHash(secret, "ada")}))
		eq(t, "right hash verified", id.Verified, true)
		if id.Recognition == nil {
			t.Fatal("a verified SignIn got no token")
		}
		// userHash is a credential: it is not stored with the event.
		var evs list[event]
		col.Get("/v1/visits/"+c.Welcome.VisitID+"/events?"+url.Values{"name": {"SignIn"}}.Encode(), &evs)
		eq(t, "stored SignIns", len(evs.Items), 2) // so that the loop below looks at them
		for _, e := range evs.Items {
			if _, ok := e.Data["userHash"]; ok {
				t.Fatalf("stored SignIn keeps userHash: %v", e.Data)
			}
		}
	})
	t.Run("required", func(t *testing.T) {
		col := collectortest.Start(t, "--identity-secret", secret, "--require-verified-signin")
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		bad := collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada", "userHash": "00ff"})
		good := collectortest.Event("Browse", "", nil)
		ack, _ := c.SendEvents(false, bad, good)
		eq(t, "acked", fmt.Sprint(ack.EventIDs), fmt.Sprint([]string{good.EventID}))
		eq(t, "rejected", len(ack.Rejected), 1)
		eq(t, "rejected code", ack.Rejected[0].Code, protocol.CodeUnverifiedSignIn)
		eq(t, "rejected id", ack.Rejected[0].EventID, bad.EventID)
		var v visit
		col.Get("/v1/visits/"+c.Welcome.VisitID, &v)
		eq(t, "state", v.State, protocol.StateAnonymous)
	})
}

// TestForgedToken: a forged or foreign token is ignored and the browser is
// told to delete it.
func TestForgedToken(t *testing.T) {
	col := collectortest.Start(t)
	other := collectortest.Start(t) // another collector, another key
	oc := collectortest.Dial(t, other.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := oc.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada"}))

	for name, tok := range map[string]string{
		"foreign key": *id.Recognition,
		"garbage":     "v1.eyJ9.AAAA",
		"sql":         "' OR 1=1; DROP TABLE identities; --",
	} {
		tok := tok
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &tok})
		if c.Welcome.State != protocol.StateAnonymous || c.Welcome.Verified || c.Welcome.Recognition != nil {
			t.Errorf("%s: welcome = %+v, want anonymous with recognition null", name, c.Welcome)
		}
	}
	var ids list[struct{ IdentityID string }]
	col.Get("/v1/identities", &ids)
	eq(t, "identities", len(ids.Items), 0)
}

// TestVisitTimeout: a visit idle for --visit-timeout ends with VisitEnded,
// and the next hello with the old visit id gets a new visit.
func TestVisitTimeout(t *testing.T) {
	col := collectortest.Start(t, "--visit-timeout", "300ms")
	visitor, old := collectortest.NewID(), collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: old})
	c.SendEvents(false, collectortest.Event("Browse", "", nil))

	deadline := time.Now().Add(time.Minute)
	var v visit
	for {
		col.Get("/v1/visits/"+old, &v)
		if v.EndedAt != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if v.EndedAt == nil {
		t.Fatal("visit did not end after the timeout")
	}
	var evs list[event]
	col.Get("/v1/visits/"+old+"/events", &evs)
	eq(t, "events", fmt.Sprint(names(evs.Items)), "[Browse VisitEnded]")
	var sessions list[session]
	col.Get("/v1/visits/"+old+"/sessions", &sessions)
	if sessions.Items[len(sessions.Items)-1].EndedAt == nil {
		t.Fatal("the visit's session is still open")
	}

	// The tracker did not notice: its events open a new visit, announced
	// by a fresh welcome before the ack.
	c.Send(protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{collectortest.Event("Browse", "", nil)}})
	var w protocol.Welcome
	c.Expect(protocol.TypeWelcome, &w)
	if w.VisitID == old || w.VisitorID != visitor {
		t.Fatalf("welcome after timeout = %+v", w)
	}
	var ack protocol.Ack
	c.Expect(protocol.TypeAck, &ack)
	eq(t, "acked", len(ack.EventIDs), 1)
	col.Get("/v1/visits/"+w.VisitID+"/events", &evs)
	eq(t, "new visit events", fmt.Sprint(names(evs.Items)), "[Browse]")
}

// TestErasedIdentityIsNotRecognized: after erasure, a token issued before
// it recognizes nobody, and the browser is told to delete it.
func TestErasedIdentityIsNotRecognized(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	visitor := collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: collectortest.NewID()})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ada", nil)))
	c.Conn.CloseNow()
	if status, b := col.Do("DELETE", "/v1/identities/"+*id.IdentityID, nil); status != 204 {
		t.Fatalf("erase: %d %s", status, b)
	}
	c = collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: id.Recognition})
	if c.Welcome.State != protocol.StateAnonymous || c.Welcome.IdentityID != nil || c.Welcome.Recognition != nil {
		t.Fatalf("welcome after erasure = %+v", c.Welcome)
	}
	var ids list[struct{ IdentityID string }]
	col.Get("/v1/identities?userId=ada", &ids)
	eq(t, "identities after erasure", len(ids.Items), 0)
}

// testSecret is the --identity-secret of the tests that sign in verified.
const testSecret = "live-test-identity-secret"

// proven is SignIn data for userID with a signInToken made with
// testSecret, as a site's backend makes it, plus attrs.
func proven(userID string, attrs map[string]any) map[string]any {
	tok, err := identity.SignInToken(testSecret, "", userID, time.Now(), 10*time.Minute)
	if err != nil {
		panic(err)
	}
	data := map[string]any{"userId": userID, "signInToken": tok}
	for k, v := range attrs {
		data[k] = v
	}
	return data
}
