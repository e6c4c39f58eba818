package conformance

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	vtidentity "github.com/visitrack/visitrack/collector/identity"
)

// The trust rules of docs/security.md: a browser's word is no proof,
// an id is no key, and SignOut revokes.

// proven is SignIn data for userID with the proof a site's backend makes
// (a signInToken signed with the identity secret), plus attrs.
func (s *suite) proven(userID string, attrs map[string]any) map[string]any {
	tok, err := vtidentity.SignInToken(s.IdentitySecret, s.IdentityAudience, userID, time.Now(), 10*time.Minute)
	if err != nil {
		panic(err)
	}
	data := map[string]any{"userId": userID, "signInToken": tok}
	for k, v := range attrs {
		data[k] = v
	}
	return data
}

// signedIn makes a browser signed in as a new user with a proof, and gives
// the identity visitor data: the victim of the checks below.
func (s *suite) signedIn(t *testing.T, name string) (b *browser, userID, identityID string) {
	t.Helper()
	userID = name + "+" + s.run + "@example.com"
	b = newBrowser()
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	a := s.collect(t, b, b.event("SignIn", s.proven(userID, nil)))
	if a.Identity == nil || !a.Identity.Verified || a.Identity.IdentityID == nil {
		t.Fatalf("proven SignIn answered identity %v, want verified with an identityId", a.Identity)
	}
	identityID = *a.Identity.IdentityID
	s.do(t, req{method: "PATCH", path: "/v1/identities/" + identityID + "/visitor-data/crm", token: s.AdminToken,
		contentType: "application/merge-patch+json", body: `{"secretTier":"platinum"}`}).want(t, http.StatusOK)
	return b, userID, identityID
}

// wantNothingOf fails if the answer reveals the identity or its data.
func wantNothingOf(t *testing.T, what string, a *collectAnswer, identityID string) {
	t.Helper()
	if a.Identity == nil {
		t.Fatalf("%s: no identity in the answer", what)
	}
	if a.Identity.IdentityID != nil {
		t.Fatalf("%s: answer names identity %s, want identityId null", what, *a.Identity.IdentityID)
	}
	if a.Identity.Verified {
		t.Fatalf("%s: answer is verified", what)
	}
	if a.VisitorData != nil && strings.Contains(string(a.VisitorData.Data), "platinum") {
		t.Fatalf("%s: answer carries the identity's visitor data %s", what, a.VisitorData.Data)
	}
	if strings.Contains(a.raw, identityID) || strings.Contains(a.raw, "platinum") {
		t.Fatalf("%s: answer mentions the identity: %s", what, a.raw)
	}
}

// testUnprovenSignIn: a SignIn without a valid proof is an unverified
// claim. It learns nothing of the identity, stitches nothing, and its
// token recognizes unverified; the proofs are never stored.
func (s *suite) testUnprovenSignIn(t *testing.T) {
	victim, userID, identityID := s.signedIn(t, "dora")
	for _, ev := range s.events(t, victim.visitID) {
		if ev.Name == "SignIn" && (strings.Contains(string(ev.Data), "signInToken") || strings.Contains(string(ev.Data), "userHash")) {
			t.Fatalf("stored SignIn keeps its proof: %s", ev.Data)
		}
	}
	expired, _ := vtidentity.SignInToken(s.IdentitySecret, s.IdentityAudience, userID, time.Now().Add(-2*time.Hour), time.Hour)
	other, _ := vtidentity.SignInToken("not-the-identity-secret", s.IdentityAudience, userID, time.Now(), time.Hour)
	proofs := map[string]map[string]any{
		"no proof":            {"userId": userID},
		"wrong userHash":      {"userId": userID, "userHash": vtidentity.UserHash("not-the-identity-secret", userID)},
		"expired signInToken": {"userId": userID, "signInToken": expired},
		"foreign signInToken": {"userId": userID, "signInToken": other},
		"someone else's hash": {"userId": userID, "userHash": vtidentity.UserHash(s.IdentitySecret, "mallory@example.com")},
	}
	for name, tok := range s.notProofs(userID) {
		proofs[name] = map[string]any{"userId": userID, "signInToken": tok}
	}
	for name, data := range proofs {
		a := newBrowser()
		e := a.event("PageEntered", nil)
		s.collect(t, a, e).wantAcked(t, e)
		anon := a.visitID
		a.nextVisit()
		signIn := a.event("SignIn", data)
		ans := s.collect(t, a, signIn)
		ans.wantAcked(t, signIn)
		wantNothingOf(t, name, ans, identityID)
		if ans.Identity.State != "authenticated" || ans.Identity.Recognition == nil {
			t.Fatalf("%s: answered %v, want authenticated with an unverified token", name, ans.Identity)
		}
		v := s.visit(t, a.visitID)
		if v.State != "authenticated" || v.Verified || v.IdentityID == nil || *v.IdentityID != identityID {
			t.Fatalf("%s: visit %+v, want authenticated, unverified, claiming %s", name, v, identityID)
		}
		var links list[visitIdentity]
		s.getJSON(t, "/v1/visits/"+a.visitID+"/identities", &links)
		if len(links.Items) != 1 || links.Items[0].Verified || links.Items[0].How != "authenticated" {
			t.Fatalf("%s: links %+v, want one unverified claim", name, links.Items)
		}
		var visits list[visit]
		s.getJSON(t, "/v1/identities/"+identityID+"/visits", &visits)
		if slices.Contains(visitIDs(visits.Items), anon) {
			t.Fatalf("%s: the claimant's earlier visit %s was stitched to %s", name, anon, identityID)
		}
		var id identity
		s.getJSON(t, "/v1/identities/"+identityID, &id)
		if slices.Contains(id.VisitorIDs, a.visitorID) {
			t.Fatalf("%s: the claimant's browser became the identity's: %v", name, id.VisitorIDs)
		}
		// Its token recognizes a later visit, unverified, and still
		// tells it nothing.
		a.nextVisit()
		e = a.event("PageEntered", nil)
		ans = s.collect(t, a, e)
		wantNothingOf(t, name+", next visit", ans, identityID)
		if ans.Identity.State != "recognized" || ans.Identity.Recognition == nil {
			t.Fatalf("%s: next visit answered %v, want recognized by the unverified token", name, ans.Identity)
		}
		if v := s.visit(t, a.visitID); v.State != "recognized" || v.Verified {
			t.Fatalf("%s: next visit %+v, want recognized, unverified", name, v)
		}
	}
	// A bare UserInfo claim learns nothing either.
	c := newBrowser()
	ans := s.collect(t, c, c.event("UserInfo", map[string]any{"userId": userID}))
	wantNothingOf(t, "bare UserInfo", ans, identityID)
}

// testBrowserKey: a visitor id is a name, not a key. A request naming a
// visitor without its key (or with a wrong one) is a new visitor: it joins
// no visit and sees nothing of the visitor or its identity.
func (s *suite) testBrowserKey(t *testing.T) {
	b := newBrowser()
	e := b.event("PageEntered", nil)
	a := s.collect(t, b, e)
	a.wantAcked(t, e)
	if len(a.VisitorKey) < 22 {
		t.Fatalf("first contact answered visitorKey %q, want a key of at least 128 bits", a.VisitorKey)
	}
	key := b.visitorKey
	s.do(t, req{method: "PATCH", path: "/v1/visitors/" + b.visitorID + "/visitor-data/offers", token: s.AdminToken,
		contentType: "application/merge-patch+json", body: `{"secretCode":"BROWSER-ONLY"}`}).want(t, http.StatusOK)

	for name, k := range map[string]string{"no key": "", "wrong key": strings.Repeat("A", len(key)), "another browser's key": newKeyOf(t, s)} {
		x := &browser{visitorID: b.visitorID, visitID: b.visitID, visitorKey: k, page: newID()}
		e := x.event("Takeover", nil)
		ans := s.collect(t, x, e)
		ans.wantAcked(t, e)
		if ans.VisitorID == b.visitorID || ans.VisitID == b.visitID {
			t.Fatalf("%s: joined visitor %s visit %s: answered %s %s", name, b.visitorID, b.visitID, ans.VisitorID, ans.VisitID)
		}
		if ans.VisitorKey == "" || ans.VisitorKey == key {
			t.Fatalf("%s: answered visitorKey %q, want a new key", name, ans.VisitorKey)
		}
		if strings.Contains(ans.raw, "BROWSER-ONLY") {
			t.Fatalf("%s: answer carries the visitor's data: %s", name, ans.raw)
		}
		for _, ev := range s.events(t, b.visitID) {
			if ev.EventID == e["eventId"] {
				t.Fatalf("%s: the event was filed into the visitor's visit", name)
			}
		}
	}
	// The owner goes on in its visit, with its key.
	e = b.event("Clicked", nil)
	own := b.visitID
	a = s.collect(t, b, e)
	if a.VisitID != own || a.VisitorKey != key {
		t.Fatalf("the owner was moved: visit %s (want %s), key %q", a.VisitID, own, a.VisitorKey)
	}
	// The REST API never shows a key.
	for _, p := range []string{"/v1/visits/" + own, "/v1/visits?visitorId=" + b.visitorID, "/v1/visits/" + own + "/events"} {
		if r := s.get(t, p); strings.Contains(string(r.Body), key) {
			t.Fatalf("%s shows the browser key", p)
		}
	}

	// Naming a signed-in browser's ids gets nothing of its identity.
	victim, _, identityID := s.signedIn(t, "erin")
	x := &browser{visitorID: victim.visitorID, visitID: victim.visitID, recognition: victim.recognition, page: newID()}
	ans := s.collect(t, x, x.event("Takeover", nil))
	wantNothingOf(t, "signed-in browser's ids without its key", ans, identityID)
	if ans.Identity.State != "anonymous" || ans.Identity.Recognition != nil {
		t.Fatalf("a stranger with the victim's ids and token answered %v, want anonymous and no token", ans.Identity)
	}

	// A proven SignIn of someone else naming this browser's id does not
	// stitch the browser's visits nor take its visitor data.
	_, _, thiefID := s.signedIn(t, "frank")
	thief := &browser{visitorID: b.visitorID, visitID: newID(), page: newID()}
	s.collect(t, thief, thief.event("SignIn", s.proven("frank+"+s.run+"@example.com", nil)))
	var visits list[visit]
	s.getJSON(t, "/v1/identities/"+thiefID+"/visits", &visits)
	if slices.Contains(visitIDs(visits.Items), own) {
		t.Fatalf("a stranger's SignIn stitched visit %s of visitor %s", own, b.visitorID)
	}
	var vd visitorData
	s.getJSON(t, "/v1/identities/"+thiefID+"/visitor-data", &vd)
	if strings.Contains(string(vd.Data), "BROWSER-ONLY") {
		t.Fatalf("a stranger's SignIn merged the visitor's data: %s", vd.Data)
	}
	var id identity
	s.getJSON(t, "/v1/identities/"+thiefID, &id)
	if slices.Contains(id.VisitorIDs, b.visitorID) {
		t.Fatalf("a stranger's SignIn linked browser %s to %s", b.visitorID, thiefID)
	}
}

// newKeyOf returns the key of a new browser.
func newKeyOf(t *testing.T, s *suite) string {
	t.Helper()
	o := newBrowser()
	s.collect(t, o, o.event("PageEntered", nil))
	return o.visitorKey
}

// testSignOutRevokes: after SignOut, the token the browser held
// recognizes nobody, in this browser or in a copy of it.
func (s *suite) testSignOutRevokes(t *testing.T) {
	b, _, identityID := s.signedIn(t, "gina")
	token := *b.recognition
	b.nextVisit()
	a := s.collect(t, b, b.event("PageEntered", nil))
	if a.Identity.State != "recognized" || !a.Identity.Verified {
		t.Fatalf("token answered %v before SignOut, want recognized", a.Identity)
	}
	signOut := b.event("SignOut", nil)
	s.collect(t, b, signOut).wantAcked(t, signOut)

	for name, c := range map[string]*browser{
		"the same browser": {visitorID: b.visitorID, visitorKey: b.visitorKey, visitID: newID(), page: newID()},
		"a copy elsewhere": newBrowser(),
	} {
		c.recognition = &token
		a := s.collect(t, c, c.event("PageEntered", nil))
		if a.Identity == nil || a.Identity.State != "anonymous" || a.Identity.Recognition != nil {
			t.Fatalf("%s: revoked token answered %v, want anonymous and a null token", name, a.Identity)
		}
		if v := s.visit(t, c.visitID); v.IdentityID != nil {
			t.Fatalf("%s: revoked token linked visit %+v to %s", name, v, identityID)
		}
	}
}
