package live_test

import (
	"net/url"
	"slices"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// blockedUserIDs are placeholders as sites send them: in other cases, with
// spaces around (Unicode ones too), and the collector's own
// --blocked-user-ids values.
var blockedUserIDs = []string{
	"", "   ", "anonymous", "Guest", " NULL ", "undefined", "0", "-1", "None", "UNKNOWN",
	"[object Object]", "NaN", "\u00a0guest\u3000", "\tundefined\n", "test-user", " Demo-Account ",
}

// refusedOnly checks that ack stored ev and refused it as a placeholder.
func refusedOnly(t *testing.T, what string, ack protocol.Ack, ev protocol.Event) {
	t.Helper()
	if !slices.Contains(ack.EventIDs, ev.EventID) || len(ack.Rejected) != 0 {
		t.Fatalf("%s: ack = %+v, want the event stored", what, ack)
	}
	if len(ack.Refused) != 1 || ack.Refused[0].EventID != ev.EventID || ack.Refused[0].Code != protocol.CodeBlockedUserID ||
		ack.Refused[0].Message == "" {
		t.Fatalf("%s: ack.refused = %+v, want %s for %s", what, ack.Refused, protocol.CodeBlockedUserID, ev.EventID)
	}
}

// TestBlockedUserIDsLinkNobody: a SignIn of a placeholder userId, with a
// valid userHash, or a UserInfo of one, is stored and acknowledged, but
// makes no identity, leaves the visit anonymous with no token, sends no
// identity frame, and the ack's refused says why.
func TestBlockedUserIDsLinkNobody(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret, "--blocked-user-ids", "Test-User,demo-account")
	for _, userID := range blockedUserIDs {
		visitID := collectortest.NewID()
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: visitID})
		page := collectortest.NewID()
		signIn := collectortest.Event(protocol.EventSignIn, page, map[string]any{"userId": userID, "userHash": identity.UserHash(testSecret, userID)})
		// No identity frame: the next frame must be the ack.
		ack, _ := c.SendEvents(false, signIn)
		refusedOnly(t, "SignIn "+url.QueryEscape(userID), ack, signIn)
		userInfo := collectortest.Event(protocol.EventUserInfo, page, map[string]any{"userId": userID})
		ack, _ = c.SendEvents(false, userInfo)
		refusedOnly(t, "UserInfo "+url.QueryEscape(userID), ack, userInfo)

		var v visit
		col.Get("/v1/visits/"+visitID, &v)
		if v.State != protocol.StateAnonymous || v.IdentityID != nil || v.Verified {
			t.Fatalf("visit after SignIn %q = %+v, want anonymous", userID, v)
		}
		var evs list[event]
		col.Get("/v1/visits/"+visitID+"/events", &evs)
		if got := names(evs.Items); !slices.Equal(got, []string{protocol.EventSignIn, protocol.EventUserInfo}) {
			t.Fatalf("events of the visit = %v, want the SignIn and UserInfo kept", got)
		}
		for _, e := range evs.Items {
			if e.IdentityID != nil || e.Data["userHash"] != nil {
				t.Fatalf("stored %s = %+v: want no identity and no proof", e.Name, e)
			}
		}
	}
	var ids list[struct{ IdentityID, UserID string }]
	col.Get("/v1/identities", &ids)
	if len(ids.Items) != 0 {
		t.Fatalf("identities = %+v, want none", ids.Items)
	}

	// A real userId that merely looks like one still signs in.
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	real := collectortest.Event(protocol.EventSignIn, collectortest.NewID(), map[string]any{"userId": "guest@example.com", "userHash": identity.UserHash(testSecret, "guest@example.com")})
	ack, id := c.SendEvents(true, real)
	if len(ack.Refused) != 0 || !id.Verified || id.State != protocol.StateAuthenticated {
		t.Fatalf("SignIn guest@example.com: ack %+v, identity %+v", ack, id)
	}
}

// TestBlockedSignInKeepsTheIdentity: a placeholder SignIn in a visit that
// is signed in changes nothing of it: same identity, same token, no frame.
func TestBlockedSignInKeepsTheIdentity(t *testing.T) {
	col := collectortest.Start(t, "--identity-secret", testSecret)
	visitID, page := collectortest.NewID(), collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: visitID})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, page, proven("ada", nil)))
	if id.IdentityID == nil || !id.Verified {
		t.Fatalf("SignIn ada: %+v", id)
	}
	guest := collectortest.Event(protocol.EventSignIn, page, proven("guest", nil))
	ack, _ := c.SendEvents(false, guest)
	refusedOnly(t, "SignIn guest", ack, guest)
	var v visit
	col.Get("/v1/visits/"+visitID, &v)
	if v.State != protocol.StateAuthenticated || v.IdentityID == nil || *v.IdentityID != *id.IdentityID || !v.Verified {
		t.Fatalf("visit after SignIn guest = %+v, want still ada's", v)
	}
	var sessions list[session]
	col.Get("/v1/visits/"+visitID+"/sessions", &sessions)
	eq(t, "sessions", len(sessions.Items), 2) // anonymous, then ada's; none for guest
}

// TestBlockedUserIDOverHTTP: /v1/collect says the same in its ack, and its
// identity is the visit's unchanged one.
func TestBlockedUserIDOverHTTP(t *testing.T) {
	col := firstPartyCollector(t)
	ev := collectortest.Event(protocol.EventSignIn, collectortest.NewID(), map[string]any{"userId": " Undefined ", "userHash": identity.UserHash(secret, " Undefined ")})
	_, a := collect(t, col, otherPage, nil, map[string]any{"visitorId": collectortest.NewID(), "visitId": collectortest.NewID(),
		"events": []protocol.Event{ev}})
	refusedOnly(t, "collect", a.Ack, ev)
	if a.Identity == nil || a.Identity.State != protocol.StateAnonymous || a.Identity.IdentityID != nil || a.Identity.Recognition != nil {
		t.Fatalf("identity = %+v, want anonymous and no token", a.Identity)
	}
	var ids list[struct{ IdentityID string }]
	col.Get("/v1/identities", &ids)
	eq(t, "identities", len(ids.Items), 0)
}
