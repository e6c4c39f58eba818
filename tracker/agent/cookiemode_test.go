package agent

import (
	"strings"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/cookie"
)

// TestServerCookies: when the collector says it keeps the cookies, the
// tracker stops writing _vt_vid, _vt_key and _vt_uid, deletes its script
// copies of the key and token, posts what the WebSocket settled to
// /v1/cookies, and remembers the mode for the next page.
func TestServerCookies(t *testing.T) {
	e := newEnv(t)
	// The script wrote it earlier with the same cookieDomain.
	if !e.jar.set(e.page.URL, cookie.User+"=v2.old.token; Path=/; Domain=shop.example; Max-Age=31536000", e.now) {
		t.Fatal("the jar refused the token")
	}
	a := start(t, e, ConfigPatch{CookieDomain: ptr("shop.example")})
	if s := e.lastSocket(); !strings.HasSuffix(s.url, "/v1/ws?cookies=auto&cookieDomain=shop.example") {
		t.Fatalf("dialled %s: the mode goes to the collector", s.url)
	}
	tok := "v2.new.token"
	hello := welcome(t, e, protocol.Welcome{Cookies: protocol.CookiesSync, VisitorKey: "k-of-the-visitor-000000", Recognition: &tok})
	if hello.Recognition == nil || *hello.Recognition != "v2.old.token" {
		t.Fatalf("hello %+v: the script token is presented until the collector takes over", hello)
	}
	if e.cookie(cookie.User) != "" || e.cookie(cookie.Key) != "" || a.token != "" {
		t.Fatalf("script copies kept: uid=%q key=%q token=%q", e.cookie(cookie.User), e.cookie(cookie.Key), a.token)
	}
	if len(e.posts) != 1 || e.posts[0].url != "https://collector.example/v1/cookies" {
		t.Fatalf("posts %+v, want one to /v1/cookies", e.posts)
	}
	var body protocol.CookiesRequest
	decode(t, e.posts[0].body, &body)
	if body.VisitorID != a.visitorID || body.VisitorKey != "k-of-the-visitor-000000" || body.Recognition == nil || *body.Recognition != tok || body.CookieDomain != "shop.example" {
		t.Fatalf("/v1/cookies body %+v", body)
	}
	if e.storage[modeKey] == "" {
		t.Fatal("the mode is not remembered")
	}

	// SignIn over the WebSocket: the identity frame's token goes to
	// /v1/cookies, never into document.cookie.
	sets := len(e.sets)
	s := e.lastSocket()
	signed := "v2.signed.in"
	s.ev.Message(&Message{Type: protocol.TypeIdentity, Identity: protocol.Identity{State: protocol.StateAuthenticated, Verified: true, Recognition: &signed}})
	body = protocol.CookiesRequest{}
	decode(t, e.posts[len(e.posts)-1].body, &body)
	if body.Recognition == nil || *body.Recognition != signed || body.VisitorKey != "" {
		t.Fatalf("after identity: %+v", body)
	}
	for _, set := range e.sets[sets:] {
		if strings.HasPrefix(set, cookie.User+"=v2") {
			t.Fatalf("wrote the token to document.cookie: %s", set)
		}
	}
	// SignOut: a null token clears the cookie at the collector.
	s.ev.Message(&Message{Type: protocol.TypeIdentity, Identity: protocol.Identity{State: protocol.StateAnonymous}})
	body = protocol.CookiesRequest{}
	decode(t, e.posts[len(e.posts)-1].body, &body)
	if body.Recognition != nil {
		t.Fatalf("after SignOut: %+v", body)
	}

	// The next page starts in server mode: no script _vt_vid at all.
	e2 := newEnv(t)
	e2.storage = e.storage
	start(t, e2, ConfigPatch{})
	if e2.cookie(cookie.Visitor) != "" {
		t.Fatalf("next page wrote _vt_vid=%q from script", e2.cookie(cookie.Visitor))
	}
	if e2.cookie(cookie.Visit) == "" {
		t.Fatal("the visit cookie stays the tracker's")
	}
}

// TestScriptCookiesAcrossSites: a welcome without cookies (another site,
// or an older collector) keeps the tracker's own cookies, and forgets a
// remembered server mode.
func TestScriptCookiesAcrossSites(t *testing.T) {
	e := newEnv(t)
	e.storage[modeKey] = "1"
	start(t, e, ConfigPatch{})
	tok := "v2.a.b"
	welcome(t, e, protocol.Welcome{VisitorKey: "k-of-the-visitor-000000", Recognition: &tok})
	if e.cookie(cookie.Visitor) == "" || e.cookie(cookie.Key) != "k-of-the-visitor-000000" || e.cookie(cookie.User) != tok {
		t.Fatalf("cookies vid=%q key=%q uid=%q", e.cookie(cookie.Visitor), e.cookie(cookie.Key), e.cookie(cookie.User))
	}
	if e.storage[modeKey] != "" || len(e.posts) != 0 {
		t.Fatalf("mode %q posts %d", e.storage[modeKey], len(e.posts))
	}
}

// TestScriptModeAsksNothing: cookies: 'script' never asks the collector
// to keep cookies, whatever it answers.
func TestScriptModeAsksNothing(t *testing.T) {
	e := newEnv(t)
	e.noWS = true
	a := start(t, e, ConfigPatch{Cookies: ptr(CookiesScript), Transport: ptr(TransportHTTP)})
	e.Advance(0)
	if len(e.posts) == 0 {
		t.Fatal("no collect request")
	}
	var req protocol.CollectRequest
	decode(t, e.posts[0].body, &req)
	if req.Cookies != "" {
		t.Fatalf("script mode sent cookies=%q", req.Cookies)
	}
	e.posts[0].done(&protocol.CollectResponse{VisitorID: a.visitorID, VisitID: a.visitID, Cookies: protocol.CookiesServer}, nil)
	if a.srv || e.cookie(cookie.Visitor) == "" {
		t.Fatal("script mode switched to server cookies")
	}
}

// TestCollectAnswerSwitchesMode: over HTTP the collector sets the cookies
// on its answer; the tracker then stops keeping its own.
func TestCollectAnswerSwitchesMode(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{Transport: ptr(TransportHTTP)})
	e.Advance(0)
	var req protocol.CollectRequest
	decode(t, e.posts[0].body, &req)
	if req.Cookies != CookiesAuto {
		t.Fatalf("collect body cookies=%q, want auto", req.Cookies)
	}
	e.posts[0].done(&protocol.CollectResponse{VisitorID: a.visitorID, VisitID: a.visitID, Cookies: protocol.CookiesServer}, nil)
	if !a.srv || e.storage[modeKey] == "" {
		t.Fatal("the collect answer did not switch to server cookies")
	}
}

// TestConsentRefusedForgetsServerCookies: scripts cannot delete HttpOnly
// cookies, so refusing consent asks the collector to clear them.
func TestConsentRefusedForgetsServerCookies(t *testing.T) {
	e := newEnv(t)
	a := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{Cookies: protocol.CookiesServer})
	a.Push(Command{Op: OpConsent, Consent: false})
	last := e.posts[len(e.posts)-1]
	var req protocol.CookiesRequest
	decode(t, last.body, &req)
	if last.url != "https://collector.example/v1/cookies" || !req.Forget || e.storage[modeKey] != "" {
		t.Fatalf("after refusal: post %s %s, mode %q", last.url, last.body, e.storage[modeKey])
	}
}
