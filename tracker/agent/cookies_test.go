package agent

import (
	"strings"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/cookie"
)

// TestCookieJarModel checks the fake browser's jar itself on the rules the
// tracker relies on, so that the tracker's cookie tests below mean what
// they say.
func TestCookieJarModel(t *testing.T) {
	j := newCookieJar()
	const now = 1_000_000
	set := func(url, a string) bool { return j.set(url, a, now) }
	see := func(url string) string { return j.header(url, now) }

	set("https://www.shop.example/a/b", "host=1; Path=/")
	set("https://www.shop.example/a/b", "dom=2; Path=/; Domain=shop.example")
	set("https://www.shop.example/a/b", "dir=3")              // default path /a
	set("https://www.shop.example/", "sec=4; Path=/; Secure") // https only
	if set("https://www.shop.example/", "evil=5; Path=/; Domain=evil.example") {
		t.Error("a page set a cookie for another site")
	}
	if set("http://www.shop.example/", "insecure=6; Path=/; Secure") {
		t.Error("an http page set a Secure cookie")
	}
	for url, want := range map[string]string{
		"https://www.shop.example/a/c":       "dir=3; host=1; dom=2; sec=4",
		"https://www.shop.example/":          "host=1; dom=2; sec=4",
		"https://www.shop.example/ab":        "host=1; dom=2; sec=4", // /ab is not below /a
		"http://www.shop.example/a":          "dir=3; host=1; dom=2", // no Secure cookie over http
		"https://checkout.shop.example/":     "dom=2",
		"https://shop.example/":              "dom=2",
		"https://shop.example.evil.example/": "",
		"https://www.shop.example:8443/":     "host=1; dom=2; sec=4", // cookies ignore ports
	} {
		if got := see(url); got != want {
			t.Errorf("%s sees %q, want %q", url, got, want)
		}
	}
	// Deletion must name the same domain and path; the host-only and the
	// domain cookie are different cookies.
	set("https://www.shop.example/", "dom=; Path=/; Max-Age=0")
	if got := see("https://checkout.shop.example/"); got != "dom=2" {
		t.Errorf("a deletion without Domain removed the domain cookie: %q", got)
	}
	set("https://www.shop.example/", "dom=; Path=/; Max-Age=0; Domain=shop.example")
	if got := see("https://checkout.shop.example/"); got != "" {
		t.Errorf("a deletion with the same Domain left %q", got)
	}
	// Lifetimes: Max-Age wins over Expires; an ended cookie is gone.
	set("https://www.shop.example/", "short=1; Path=/; Max-Age=10; Expires=Fri, 01 Jan 2100 00:00:00 GMT")
	set("https://www.shop.example/", "past=1; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT")
	if got := j.header("https://www.shop.example/x", now+9_999); !strings.Contains(got, "short=1") || strings.Contains(got, "past") {
		t.Errorf("before Max-Age ends: %q", got)
	}
	if got := j.header("https://www.shop.example/x", now+10_000); strings.Contains(got, "short") {
		t.Errorf("after Max-Age: %q", got)
	}
	// An http page may not overwrite a Secure cookie.
	if set("http://www.shop.example/", "sec=plain; Path=/") {
		if got := see("https://www.shop.example/"); strings.Contains(got, "sec=plain") {
			t.Errorf("an http page overwrote a Secure cookie: %q", got)
		}
	}
}

// TestCookieDomainSharesTheVisit: with cookieDomain, every tracker cookie
// carries Domain=, so a page on another subdomain continues the visit and
// presents the token; without it, the cookies stay on their host.
func TestCookieDomainSharesTheVisit(t *testing.T) {
	for _, tc := range []struct {
		name, domain string
		shared       bool
	}{
		{"with cookieDomain", "shop.example", true},
		{"without", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.page.URL = "https://www.shop.example/product"
			a1 := start(t, e, ConfigPatch{CookieDomain: ptr(tc.domain)})
			welcome(t, e, protocol.Welcome{Recognition: ptr("tok"), State: protocol.StateRecognized,
				IdentityID: ptr("01KA0000000000000000000001"), Verified: true})
			if len(e.sets) < 3 {
				t.Fatalf("cookies set: %v", e.sets)
			}
			for _, s := range e.sets {
				if got := strings.Contains(s, "; Domain=shop.example"); got != tc.shared {
					t.Errorf("cookie %q: Domain=shop.example %v, want %v", s, got, tc.shared)
				}
			}
			if e.cookie(cookie.User) != "tok" {
				t.Fatal("the token's cookie is not kept")
			}

			e.Advance(60_000)
			e.page.URL = "https://checkout.shop.example/pay"
			a2 := start(t, e, ConfigPatch{CookieDomain: ptr(tc.domain)})
			hello := welcome(t, e, protocol.Welcome{})
			sameVisit := a2.visitorID == a1.visitorID && a2.visitID == a1.visitID
			presented := hello.Recognition != nil && *hello.Recognition == "tok"
			if sameVisit != tc.shared || presented != tc.shared {
				t.Fatalf("on another subdomain: same visitor and visit %v, token presented %v; want %v",
					sameVisit, presented, tc.shared)
			}

			// Another site that merely ends like it sees nothing.
			e.page.URL = "https://shop.example.evil.example/"
			if got := e.Cookies(); got != "" {
				t.Fatalf("another site sees %q", got)
			}
		})
	}
}

// TestCookieDeletionMatchesDomain: forgetting the token and refusing
// consent delete the cookies with the attributes they were set with, so
// they are really gone from the browser (a deletion without Domain= would
// leave the domain cookie in place).
func TestCookieDeletionMatchesDomain(t *testing.T) {
	e := newEnv(t)
	e.page.URL = "https://www.shop.example/"
	cfg := ConfigPatch{CookieDomain: ptr("shop.example"), RequireConsent: ptr(true)}
	a := start(t, e, cfg)
	a.Push(Command{Op: OpConsent, Consent: true})
	welcome(t, e, protocol.Welcome{Recognition: ptr("tok"), State: protocol.StateRecognized,
		IdentityID: ptr("01KA0000000000000000000001"), Verified: true})
	if e.cookie(cookie.User) != "tok" {
		t.Fatal("no token cookie")
	}
	// The next page presents the token; the collector no longer knows it.
	start(t, e, cfg).Push(Command{Op: OpConsent, Consent: true})
	welcome(t, e, protocol.Welcome{Recognition: nil})
	if got := e.jar.live(e.now); strings.Contains(strings.Join(got, " "), cookie.User) {
		t.Fatalf("the rejected token's cookie is still in the jar: %v", got)
	}

	b := start(t, e, cfg)
	b.Push(Command{Op: OpConsent, Consent: true})
	if len(e.jar.live(e.now)) == 0 {
		t.Fatal("no cookies before the refusal")
	}
	b.Push(Command{Op: OpConsent, Consent: false})
	if got := e.jar.live(e.now); len(got) != 0 {
		t.Fatalf("refusing consent left cookies in the jar: %v", got)
	}
}

// TestCookieSecureFollowsTheScheme: on https every cookie is Secure, so an
// http page of the same host does not see the visit; on http the cookies
// are not Secure, or the browser would drop them.
func TestCookieSecureFollowsTheScheme(t *testing.T) {
	e := newEnv(t)
	start(t, e, ConfigPatch{})
	for _, s := range e.sets {
		if !strings.Contains(s, "; Secure") {
			t.Errorf("https cookie without Secure: %s", s)
		}
	}
	e.page.URL, e.page.Secure = "http://shop.example/", false
	if got := e.Cookies(); got != "" {
		t.Fatalf("an http page sees the https cookies: %q", got)
	}
	// (Nor may it overwrite them: browsers leave Secure cookies alone.
	// So the http site is tried in a fresh browser.)
	e = newEnv(t)
	e.page.URL, e.page.Secure = "http://shop.example/", false
	a2 := start(t, e, ConfigPatch{})
	for _, s := range e.sets {
		if strings.Contains(s, "Secure") {
			t.Errorf("http cookie with Secure: %s", s)
		}
	}
	if e.cookie(cookie.Visitor) != a2.visitorID || !strings.HasPrefix(e.cookie(cookie.Visit), a2.visitID+".") {
		t.Fatalf("the http page's cookies were not kept: %q", e.Cookies())
	}
}

// TestVisitCookieExpires: _vt_visit lives for the visit timeout from the
// last activity; after it the browser has dropped it, and the next page
// starts a new visit of the same visitor.
func TestVisitCookieExpires(t *testing.T) {
	e := newEnv(t)
	a1 := start(t, e, ConfigPatch{})
	welcome(t, e, protocol.Welcome{})
	e.Advance(29 * 60_000)
	if e.cookie(cookie.Visit) == "" {
		t.Fatal("the visit cookie ended before the timeout")
	}
	e.Advance(2 * 60_000)
	if e.cookie(cookie.Visit) != "" {
		t.Fatal("the visit cookie outlived the visit timeout")
	}
	if e.cookie(cookie.Visitor) != a1.visitorID {
		t.Fatal("the visitor cookie ended with the visit")
	}
	a2 := start(t, e, ConfigPatch{})
	if a2.visitID == a1.visitID || a2.visitorID != a1.visitorID {
		t.Fatalf("after the timeout: visit %s (was %s), visitor %s (was %s)", a2.visitID, a1.visitID, a2.visitorID, a1.visitorID)
	}
}
