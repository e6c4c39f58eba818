package conformance

import (
	"net/http"
	"slices"
	"testing"
)

// mergeAnswer is the answer of POST /v1/identities/{identityId}/merge.
type mergeAnswer struct {
	MergeID        string         `json:"mergeId"`
	IdentityID     string         `json:"identityId"`
	FromIdentityID string         `json:"fromIdentityId"`
	FromUserID     string         `json:"fromUserId"`
	TokenID        string         `json:"tokenId"`
	State          string         `json:"state"`
	Moved          map[string]int `json:"moved"`
}

// signIn makes a browser that signs in as userID, with a proof, and returns
// the identity.
func (s *suite) signIn(t *testing.T, b *browser, userID string) string {
	t.Helper()
	e := b.event("SignIn", s.proven(userID, nil))
	a := s.collect(t, b, e)
	a.wantAcked(t, e)
	if a.Identity == nil || a.Identity.IdentityID == nil {
		t.Fatalf("SignIn of %s answered identity %v", userID, a.Identity)
	}
	return *a.Identity.IdentityID
}

// testMerge: one identity merged into another (docs/identity.md#merging-two-identities) takes its
// visits, events and visitor data along, and its userId resolves to the
// identity it was merged into, also at the next SignIn.
func (s *suite) testMerge(t *testing.T) {
	userA, userB := "merge-a+"+s.run+"@example.com", "merge-b+"+s.run+"@example.com"
	ba, bb := newBrowser(), newBrowser()
	a := s.signIn(t, ba, userA)
	b := s.signIn(t, bb, userB)
	s.do(t, req{method: "PATCH", path: "/v1/identities/" + b + "/visitor-data/chat", token: s.AdminToken,
		contentType: "application/merge-patch+json", body: `{"open":true}`}).want(t, http.StatusOK)
	merge := "/v1/identities/" + a + "/merge"
	body := map[string]string{"from": b}

	s.do(t, req{method: "POST", path: merge, token: s.Tokens["history:read"], body: body}).wantProblem(t, http.StatusForbidden)

	var dry mergeAnswer
	r := s.do(t, req{method: "POST", path: merge + "?dryRun=true", token: s.AdminToken, body: body})
	r.want(t, http.StatusOK)
	r.decode(t, &dry)
	if dry.State != "dryRun" || dry.Moved["visits"] != 1 || dry.Moved["events"] != 1 || dry.Moved["visitorDataNamespaces"] != 1 {
		t.Fatalf("dry run: %+v", dry)
	}
	s.get(t, "/v1/identities/"+b).want(t, http.StatusOK)

	var done mergeAnswer
	r = s.do(t, req{method: "POST", path: merge, token: s.AdminToken, body: body})
	r.want(t, http.StatusOK)
	r.decode(t, &done)
	if done.State != "done" || done.MergeID == "" || done.FromUserID != userB || done.TokenID == "" || done.Moved["visits"] != 1 {
		t.Fatalf("merge: %+v", done)
	}
	s.get(t, "/v1/identities/"+b).wantProblem(t, http.StatusNotFound)

	var visits list[visit]
	s.getJSON(t, "/v1/identities/"+a+"/visits", &visits)
	if got := visitIDs(visits.Items); !sameSet(got, []string{ba.visitID, bb.visitID}) {
		t.Fatalf("visits of the merged identity %v, want %s and %s", got, ba.visitID, bb.visitID)
	}
	for _, e := range s.events(t, bb.visitID) {
		if e.Name == "SignIn" && (e.IdentityID == nil || *e.IdentityID != a) {
			t.Errorf("B's SignIn event carries identity %v, want %s", e.IdentityID, a)
		}
	}
	var vd visitorData
	s.getJSON(t, "/v1/identities/"+a+"/visitor-data", &vd)
	if Path(vd.data(t), "chat", "open") != true {
		t.Errorf("visitor data after the merge: %v", vd.data(t))
	}
	var ids list[identity]
	s.getJSON(t, "/v1/identities?userId="+queryEscape(userB), &ids)
	if len(ids.Items) != 1 || ids.Items[0].IdentityID != a {
		t.Errorf("identities of %s after the merge: %+v, want %s", userB, ids.Items, a)
	}
	// The old userId signs in again, on another browser: it lands on a.
	if got := s.signIn(t, newBrowser(), userB); got != a {
		t.Errorf("SignIn of %s after the merge: identity %s, want %s", userB, got, a)
	}

	var merges list[mergeAnswer]
	s.getJSON(t, "/v1/identities/"+a+"/merges", &merges)
	if len(merges.Items) != 1 || merges.Items[0].MergeID != done.MergeID || merges.Items[0].FromIdentityID != b ||
		merges.Items[0].State != "done" || merges.Items[0].TokenID != done.TokenID {
		t.Errorf("merges of %s: %+v", a, merges.Items)
	}
	// b was merged away: merging a into it is a cycle, and merging it
	// again is refused.
	s.do(t, req{method: "POST", path: "/v1/identities/" + b + "/merge", token: s.AdminToken, body: map[string]string{"from": a}}).
		wantProblem(t, http.StatusConflict)
	s.do(t, req{method: "POST", path: merge, token: s.AdminToken, body: body}).wantProblem(t, http.StatusConflict)
	s.do(t, req{method: "POST", path: merge, token: s.AdminToken, body: map[string]string{"from": a}}).wantProblem(t, http.StatusBadRequest)
	s.getJSON(t, "/v1/identities/"+a+"/merges", &merges)
	if len(merges.Items) != 1 {
		t.Errorf("refused merges were recorded: %+v", merges.Items)
	}
}

// testPagesAndURLs: an identity's pages, a page's events, and the url
// filters, whose prefix match treats LIKE's wildcards as plain characters.
func (s *suite) testPagesAndURLs(t *testing.T) {
	userID := "pages+" + s.run + "@example.com"
	br := newBrowser()
	id := s.signIn(t, br, userID)
	var pageIDs []string
	for _, u := range []string{"https://shop.example/a_b/" + s.run, "https://shop.example/aXb/" + s.run} {
		br.page = newID()
		e := br.event("PageEntered", nil)
		e["url"] = u
		s.collect(t, br, e).wantAcked(t, e)
		pageIDs = append(pageIDs, br.page)
	}
	type pageItem struct {
		PageID string `json:"pageId"`
		URL    string `json:"url"`
	}
	var pages list[pageItem]
	s.getJSON(t, "/v1/identities/"+id+"/pages", &pages)
	var got []string
	for _, p := range pages.Items {
		got = append(got, p.PageID)
	}
	if !slices.Equal(got, pageIDs) {
		t.Fatalf("pages of the identity %v, want %v", got, pageIDs)
	}
	s.getJSON(t, "/v1/visits/"+br.visitID+"/pages?urlPrefix="+queryEscape("https://shop.example/a_b/"), &pages)
	if len(pages.Items) != 1 || pages.Items[0].PageID != pageIDs[0] {
		t.Errorf("urlPrefix with _: %+v, want %s alone", pages.Items, pageIDs[0])
	}
	var events list[storedEvent]
	s.getJSON(t, "/v1/pages/"+pageIDs[1]+"/events", &events)
	if len(events.Items) != 1 || events.Items[0].PageID != pageIDs[1] {
		t.Errorf("events of page %s: %+v", pageIDs[1], events.Items)
	}
	s.getJSON(t, "/v1/events?visitId="+br.visitID+"&url="+queryEscape("https://shop.example/aXb/"+s.run), &events)
	if len(events.Items) != 1 || events.Items[0].PageID != pageIDs[1] {
		t.Errorf("events by url: %+v", events.Items)
	}
	s.get(t, "/v1/pages/"+newID()+"/events").wantProblem(t, http.StatusNotFound)
}
