package conformance

import (
	"slices"
	"testing"
	"time"
)

type session struct {
	SessionID  string  `json:"sessionId"`
	IdentityID *string `json:"identityId"`
	State      string  `json:"state"`
}

type identity struct {
	IdentityID string   `json:"identityId"`
	UserID     string   `json:"userId"`
	VisitorIDs []string `json:"visitorIds"`
}

type visitIdentity struct {
	IdentityID string `json:"identityId"`
	How        string `json:"how"`
	Verified   bool   `json:"verified"`
}

func (s *suite) visit(t *testing.T, visitID string) visit {
	t.Helper()
	var v visit
	s.getJSON(t, "/v1/visits/"+visitID, &v)
	return v
}

// testIdentityStory: anonymous → SignIn → a new visit recognized by the
// token → SignOut, and the earlier anonymous visit stitched to the identity.
func (s *suite) testIdentityStory(t *testing.T) {
	userID := "alice+" + s.run + "@example.com"
	b := newBrowser()

	// An anonymous visit first.
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	anonVisit := b.visitID

	// The next visit signs in.
	b.nextVisit()
	e = b.event("PageEntered", nil)
	a := s.collect(t, b, e)
	// HTTP has no welcome: every answer says who the visit is.
	if a.Identity == nil || a.Identity.State != "anonymous" || a.Identity.IdentityID != nil || a.Identity.Verified || a.Identity.Recognition != nil {
		t.Fatalf("anonymous answer carries identity %+v, want anonymous and unverified without token", a.Identity)
	}
	// A person takes longer than a millisecond to sign in: the sessions'
	// start times differ, so their order does not rest on id tie-breaks.
	time.Sleep(5 * time.Millisecond)
	signIn := b.event("SignIn", s.proven(userID, map[string]any{"plan": "gold"}))
	a = s.collect(t, b, signIn)
	a.wantAcked(t, signIn)
	if a.Identity == nil || a.Identity.State != "authenticated" || !a.Identity.Verified || a.Identity.IdentityID == nil {
		t.Fatalf("SignIn answered identity %+v, want authenticated, verified, with an identityId", a.Identity)
	}
	if a.Identity.Recognition == nil || *a.Identity.Recognition == "" {
		t.Fatal("SignIn answered no recognition token")
	}
	identityID := *a.Identity.IdentityID
	signedVisit := b.visitID

	v := s.visit(t, signedVisit)
	if v.State != "authenticated" || !v.Verified || v.IdentityID == nil || *v.IdentityID != identityID {
		t.Fatalf("visit after SignIn %+v, want authenticated by %s", v, identityID)
	}
	var sessions list[session]
	s.getJSON(t, "/v1/visits/"+signedVisit+"/sessions", &sessions)
	if n := len(sessions.Items); n != 2 {
		t.Fatalf("%d sessions after SignIn, want 2 (anonymous, authenticated): %+v", n, sessions.Items)
	}
	if last := sessions.Items[1]; last.State != "authenticated" || last.IdentityID == nil || *last.IdentityID != identityID || last.SessionID != v.SessionID {
		t.Fatalf("second session %+v, want the visit's authenticated session", last)
	}
	if first := sessions.Items[0]; first.State != "anonymous" || first.IdentityID != nil {
		t.Fatalf("first session %+v, want anonymous", first)
	}

	var ids list[identity]
	s.getJSON(t, "/v1/identities?userId="+queryEscape(userID), &ids)
	if len(ids.Items) != 1 || ids.Items[0].IdentityID != identityID {
		t.Fatalf("identities of %s: %+v, want %s", userID, ids.Items, identityID)
	}
	var id identity
	s.getJSON(t, "/v1/identities/"+identityID, &id)
	if id.UserID != userID || !slices.Contains(id.VisitorIDs, b.visitorID) {
		t.Fatalf("identity %+v, want userId %s with visitor %s", id, userID, b.visitorID)
	}
	var links list[visitIdentity]
	s.getJSON(t, "/v1/visits/"+signedVisit+"/identities", &links)
	if links := links.Items; len(links) != 1 || links[0].IdentityID != identityID || links[0].How != "authenticated" || !links[0].Verified {
		t.Fatalf("identities of the signed-in visit %+v, want %s authenticated", links, identityID)
	}

	// Stitching: the earlier anonymous visit now belongs to the identity.
	var visits list[visit]
	s.getJSON(t, "/v1/identities/"+identityID+"/visits", &visits)
	if got := visitIDs(visits.Items); !sameSet(got, []string{anonVisit, signedVisit}) {
		t.Fatalf("visits of the identity %v, want the stitched %s and the signed-in %s", got, anonVisit, signedVisit)
	}

	// A later visit presents the token: recognized, verified, and the
	// collector records UserInfo itself.
	b.nextVisit()
	e = b.event("PageEntered", nil)
	a = s.collect(t, b, e)
	a.wantAcked(t, e)
	if a.Identity == nil || a.Identity.State != "recognized" || !a.Identity.Verified || a.Identity.IdentityID == nil || *a.Identity.IdentityID != identityID {
		t.Fatalf("recognition answered identity %+v, want recognized, verified, %s", a.Identity, identityID)
	}
	if a.Identity.Recognition == nil {
		t.Fatal("recognition answered a null token: the tracker would drop a valid cookie")
	}
	recognizedVisit := b.visitID
	v = s.visit(t, recognizedVisit)
	if v.State != "recognized" || !v.Verified || v.IdentityID == nil || *v.IdentityID != identityID {
		t.Fatalf("recognized visit %+v", v)
	}
	var userInfos int
	for _, ev := range s.events(t, recognizedVisit) {
		if ev.Name == "UserInfo" {
			userInfos++
			if ev.IdentityID == nil || *ev.IdentityID != identityID || ev.Category != "system" {
				t.Fatalf("recorded UserInfo %+v, want a system event of %s", ev, identityID)
			}
		}
	}
	if userInfos != 1 {
		t.Fatalf("%d UserInfo events recorded for the recognition, want 1", userInfos)
	}
	// Presenting the token again changes nothing more.
	e = b.event("Clicked", nil)
	s.collect(t, b, e).wantAcked(t, e)
	if n := countName(s.events(t, recognizedVisit), "UserInfo"); n != 1 {
		t.Fatalf("%d UserInfo events after a second request, want 1", n)
	}

	// SignOut: the token is withdrawn and the visit goes on anonymous.
	signOut := b.event("SignOut", nil)
	a = s.collect(t, b, signOut)
	a.wantAcked(t, signOut)
	if a.Identity == nil || a.Identity.State != "anonymous" || a.Identity.Recognition != nil || a.Identity.IdentityID != nil {
		t.Fatalf("SignOut answered identity %+v, want anonymous with no token", a.Identity)
	}
	v = s.visit(t, recognizedVisit)
	if v.State != "anonymous" || v.IdentityID != nil {
		t.Fatalf("visit after SignOut %+v, want anonymous", v)
	}
	e = b.event("Clicked", nil)
	s.collect(t, b, e).wantAcked(t, e)
	evs := s.events(t, recognizedVisit)
	if last := evs[len(evs)-1]; last.EventID != e["eventId"] || last.IdentityID != nil {
		t.Fatalf("event after SignOut %+v, want it anonymous", last)
	}

	// The identity's events span its visits.
	var idEvents list[storedEvent]
	s.getJSON(t, "/v1/identities/"+identityID+"/events?name=SignIn", &idEvents)
	if len(idEvents.Items) != 1 || idEvents.Items[0].EventID != signIn["eventId"] {
		t.Fatalf("SignIn events of the identity %+v, want the one SignIn", idEvents.Items)
	}
}

// testClaims: a bare UserInfo is an unverified claim; a forged token is
// ignored and the browser told to drop it.
func (s *suite) testClaims(t *testing.T) {
	b := newBrowser()
	claim := b.event("UserInfo", map[string]any{"userId": "bob+" + s.run + "@example.com"})
	a := s.collect(t, b, claim)
	a.wantAcked(t, claim)
	if a.Identity == nil || a.Identity.State != "recognized" || a.Identity.Verified {
		t.Fatalf("bare UserInfo answered identity %+v, want recognized and unverified", a.Identity)
	}
	if a.Identity.Recognition != nil {
		t.Fatal("a bare claim earned a recognition token")
	}
	v := s.visit(t, b.visitID)
	if v.State != "recognized" || v.Verified {
		t.Fatalf("visit after a claim %+v, want recognized, unverified", v)
	}

	noUser := b.event("SignIn", map[string]any{"plan": "gold"})
	a = s.collect(t, b, noUser)
	if len(a.Ack.Rejected) != 1 || a.Ack.Rejected[0].EventID != noUser["eventId"] {
		t.Fatalf("SignIn without userId: rejections %+v, want it rejected", a.Ack.Rejected)
	}

	f := newBrowser()
	forged := "forged.token.value"
	f.recognition = &forged
	e := f.event("PageEntered", nil)
	a = s.collect(t, f, e)
	a.wantAcked(t, e)
	if a.Identity == nil || a.Identity.Recognition != nil || a.Identity.State != "anonymous" {
		t.Fatalf("forged token answered identity %+v, want anonymous and a null token (drop the cookie)", a.Identity)
	}
	if v := s.visit(t, f.visitID); v.State != "anonymous" || v.IdentityID != nil {
		t.Fatalf("visit with a forged token %+v, want anonymous", v)
	}
}

func visitIDs(vs []visit) []string {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.VisitID)
	}
	return ids
}

func countName(events []storedEvent, name string) int {
	n := 0
	for _, e := range events {
		if e.Name == name {
			n++
		}
	}
	return n
}
