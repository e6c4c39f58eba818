package conformance

import (
	"net/http"
	"net/url"
	"slices"
	"testing"
)

func queryEscape(s string) string { return url.QueryEscape(s) }

// testHistory: the History API's reads, filters and 404s.
func (s *suite) testHistory(t *testing.T) {
	b := newBrowser()
	entered := b.event("PageEntered", nil)
	buy := b.event("Purchase", map[string]any{"total": 42})
	s.collect(t, b, entered, buy).wantAcked(t, entered, buy)

	var visits list[visit]
	s.getJSON(t, "/v1/visits?visitorId="+b.visitorID, &visits)
	if got := visitIDs(visits.Items); !slices.Equal(got, []string{b.visitID}) {
		t.Fatalf("visits of visitor %s: %v, want [%s]", b.visitorID, got, b.visitID)
	}
	if visits.NextCursor != nil {
		t.Fatalf("a one-page list has nextCursor %q, want null", *visits.NextCursor)
	}
	s.getJSON(t, "/v1/visits?visitorId="+b.visitorID+"&state=authenticated", &visits)
	if len(visits.Items) != 0 {
		t.Fatalf("authenticated visits of an anonymous visitor: %v", visitIDs(visits.Items))
	}

	var events list[storedEvent]
	s.getJSON(t, "/v1/events?visitId="+b.visitID+"&category=business", &events)
	if len(events.Items) != 1 || events.Items[0].EventID != buy["eventId"] {
		t.Fatalf("business events of the visit: %+v, want the Purchase", events.Items)
	}
	s.getJSON(t, "/v1/events?visitId="+b.visitID+"&name=PageEntered", &events)
	if len(events.Items) != 1 || events.Items[0].EventID != entered["eventId"] {
		t.Fatalf("PageEntered events of the visit: %+v", events.Items)
	}
	s.getJSON(t, "/v1/events?visitId="+b.visitID+"&category=system", &events)
	for _, e := range events.Items {
		if e.Category != "system" {
			t.Fatalf("category=system returned %+v", e)
		}
	}
	var sessions list[session]
	s.getJSON(t, "/v1/visits/"+b.visitID+"/sessions", &sessions)
	if len(sessions.Items) != 1 || sessions.Items[0].State != "anonymous" {
		t.Fatalf("sessions of an anonymous visit: %+v, want one anonymous", sessions.Items)
	}
	var links list[visitIdentity]
	s.getJSON(t, "/v1/visits/"+b.visitID+"/identities", &links)
	if len(links.Items) != 0 {
		t.Fatalf("identities of an anonymous visit: %+v, want none", links.Items)
	}

	unknown := newID()
	for _, p := range []string{
		"/v1/visits/" + unknown, "/v1/visits/" + unknown + "/events", "/v1/visits/" + unknown + "/pages",
		"/v1/pages/" + unknown, "/v1/identities/" + unknown,
	} {
		s.get(t, p).wantProblem(t, http.StatusNotFound)
	}
	s.get(t, "/v1/visits?cursor=not-a-cursor").wantProblem(t, http.StatusBadRequest)
	s.get(t, "/v1/visits?since=last-tuesday").wantProblem(t, http.StatusBadRequest)
	s.get(t, "/v1/events?category=other").wantProblem(t, http.StatusBadRequest)
}

// testPagination: limit and cursor walk a list newest first, without gaps
// or repeats, and the last page has a null nextCursor.
func (s *suite) testPagination(t *testing.T) {
	b := newBrowser()
	var want []string
	for range 3 {
		b.nextVisit()
		e := b.event("PageEntered", nil)
		s.collect(t, b, e).wantAcked(t, e)
		want = append([]string{b.visitID}, want...) // newest first
	}
	var got []string
	path := "/v1/visits?visitorId=" + b.visitorID + "&limit=2"
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatalf("more pages than visits: %v", got)
		}
		var l list[visit]
		s.getJSON(t, path, &l)
		if len(l.Items) > 2 {
			t.Fatalf("limit=2 returned %d items", len(l.Items))
		}
		got = append(got, visitIDs(l.Items)...)
		if l.NextCursor == nil {
			break
		}
		path = "/v1/visits?visitorId=" + b.visitorID + "&limit=2&cursor=" + queryEscape(*l.NextCursor)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("paged visits %v, want %v (newest first)", got, want)
	}

	var events list[storedEvent]
	e1, e2, e3 := b.event("A", nil), b.event("B", nil), b.event("C", nil)
	s.collect(t, b, e1, e2, e3).wantAcked(t, e1, e2, e3)
	s.getJSON(t, "/v1/visits/"+b.visitID+"/events?limit=2", &events)
	if len(events.Items) != 2 || events.NextCursor == nil {
		t.Fatalf("first page of 4 events with limit=2: %d items, nextCursor %v", len(events.Items), events.NextCursor)
	}
	first := names(events.Items)
	s.getJSON(t, "/v1/visits/"+b.visitID+"/events?limit=2&cursor="+queryEscape(*events.NextCursor), &events)
	if all := append(first, names(events.Items)...); !slices.Equal(all, []string{"PageEntered", "A", "B", "C"}) {
		t.Fatalf("paged events %v, want PageEntered, A, B, C", all)
	}
	s.get(t, "/v1/visits?limit=0").wantProblem(t, http.StatusBadRequest)
	s.get(t, "/v1/visits?limit=1001").wantProblem(t, http.StatusBadRequest)
}

// testAuth: no token or an unknown one is 401; a token without the scope
// is 403; both as problem details. Health needs no token.
func (s *suite) testAuth(t *testing.T) {
	b := newBrowser()
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	path := "/v1/visits/" + b.visitID

	s.do(t, req{method: "GET", path: path}).wantProblem(t, http.StatusUnauthorized)
	s.do(t, req{method: "GET", path: path, token: "vt_not-a-real-token-at-all"}).wantProblem(t, http.StatusUnauthorized)
	s.do(t, req{method: "GET", path: path, header: map[string]string{"Authorization": "Basic YWRtaW46YWRtaW4="}}).wantProblem(t, http.StatusUnauthorized)

	readData := s.Tokens["visitordata:read"]
	readHistory := s.Tokens["history:read"]
	s.do(t, req{method: "GET", path: path, token: readData}).wantProblem(t, http.StatusForbidden)
	s.do(t, req{method: "GET", path: path, token: readHistory}).want(t, http.StatusOK)
	s.do(t, req{method: "DELETE", path: "/v1/visitors/" + b.visitorID, token: readHistory}).wantProblem(t, http.StatusForbidden)
	s.do(t, req{method: "GET", path: "/v1/visitors/" + b.visitorID + "/visitor-data", token: readHistory}).wantProblem(t, http.StatusForbidden)
	s.do(t, req{method: "GET", path: "/v1/visitors/" + b.visitorID + "/visitor-data", token: readData}).want(t, http.StatusOK)
	s.do(t, req{method: "PATCH", path: "/v1/visitors/" + b.visitorID + "/visitor-data/crm", token: readData,
		contentType: "application/merge-patch+json", body: `{"tier":"gold"}`}).wantProblem(t, http.StatusForbidden)
	s.do(t, req{method: "GET", path: "/v1/visits/" + b.visitID + "/metadata", token: readHistory}).wantProblem(t, http.StatusForbidden)
	// The visit is untouched by the refused delete.
	s.get(t, path).want(t, http.StatusOK)
}

// testErasure: deleting an identity or a visitor leaves nothing of it.
func (s *suite) testErasure(t *testing.T) {
	userID := "carol+" + s.run + "@example.com"
	b := newBrowser()
	e := b.event("PageEntered", nil)
	s.collect(t, b, e).wantAcked(t, e)
	anon := b.visitID
	b.nextVisit()
	signIn := b.event("SignIn", s.proven(userID, nil))
	a := s.collect(t, b, signIn)
	if a.Identity == nil || a.Identity.IdentityID == nil {
		t.Fatalf("SignIn answered identity %+v", a.Identity)
	}
	identityID := *a.Identity.IdentityID
	signed := b.visitID
	s.do(t, req{method: "PUT", path: "/v1/identities/" + identityID + "/visitor-data", token: s.AdminToken,
		header: map[string]string{"If-Match": `"0"`}, body: map[string]any{"crm": map[string]any{"tier": "gold"}}}).want(t, http.StatusOK)

	s.do(t, req{method: "DELETE", path: "/v1/identities/" + identityID, token: s.AdminToken}).want(t, http.StatusNoContent)
	s.get(t, "/v1/identities/"+identityID).wantProblem(t, http.StatusNotFound)
	for _, v := range []string{anon, signed} {
		s.get(t, "/v1/visits/"+v).wantProblem(t, http.StatusNotFound)
	}
	var ids list[identity]
	s.getJSON(t, "/v1/identities?userId="+queryEscape(userID), &ids)
	if len(ids.Items) != 0 {
		t.Fatalf("identities of an erased user: %+v", ids.Items)
	}
	var events list[storedEvent]
	s.getJSON(t, "/v1/events?identityId="+identityID, &events)
	if len(events.Items) != 0 {
		t.Fatalf("events of an erased identity: %d", len(events.Items))
	}
	var vd visitorData
	s.getJSON(t, "/v1/identities/"+identityID+"/visitor-data", &vd)
	if vd.Version != 0 || string(vd.Data) != "{}" {
		t.Fatalf("visitor data of an erased identity: %+v, want version 0 and {}", vd)
	}
	// The old token no longer recognizes anybody.
	b.nextVisit()
	e = b.event("PageEntered", nil)
	a = s.collect(t, b, e)
	if a.Identity == nil || a.Identity.State != "anonymous" || a.Identity.Recognition != nil {
		t.Fatalf("the erased identity's token answered identity %+v, want anonymous and no token", a.Identity)
	}

	// An anonymous visitor.
	c := newBrowser()
	e = c.event("PageEntered", nil)
	s.collect(t, c, e).wantAcked(t, e)
	s.do(t, req{method: "DELETE", path: "/v1/visitors/" + c.visitorID, token: s.AdminToken}).want(t, http.StatusNoContent)
	s.get(t, "/v1/visits/"+c.visitID).wantProblem(t, http.StatusNotFound)
	var vs list[visit]
	s.getJSON(t, "/v1/visits?visitorId="+c.visitorID, &vs)
	if len(vs.Items) != 0 {
		t.Fatalf("visits of an erased visitor: %v", visitIDs(vs.Items))
	}
}
