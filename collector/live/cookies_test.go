package live_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The page of these tests is http://127.0.0.1:9 (another port of the
// collector's host: the same site) or http://other.example (another site).
const (
	samePage  = "http://127.0.0.1:9"
	otherPage = "http://other.example"
	secret    = "s3cret"
)

func firstPartyCollector(t *testing.T, flags ...string) *collectortest.Collector {
	return collectortest.Start(t, append([]string{"--allowed-origins", samePage + "," + otherPage,
		"--identity-secret", secret}, flags...)...)
}

// post sends a browser's POST with an Origin and cookies, and returns the
// answer with its body read.
func browserPost(t *testing.T, url, origin string, cookies []*http.Cookie, body any) (*http.Response, []byte) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", origin)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, out
}

// setCookie returns the Set-Cookie of name in resp, or nil.
func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func signInEvent(userID string) protocol.Event {
	return collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": userID, "userHash": identity.UserHash(secret, userID)})
}

type collectAnswer struct {
	VisitorID  string             `json:"visitorId"`
	VisitorKey string             `json:"visitorKey"`
	VisitID    string             `json:"visitId"`
	Ack        protocol.Ack       `json:"ack"`
	Identity   *protocol.Identity `json:"identity"`
	Cookies    string             `json:"cookies"`
}

func collect(t *testing.T, col *collectortest.Collector, origin string, cookies []*http.Cookie, req map[string]any) (*http.Response, collectAnswer) {
	t.Helper()
	if req["events"] == nil {
		req["events"] = []protocol.Event{}
	}
	resp, b := browserPost(t, col.URL()+"/v1/collect", origin, cookies, req)
	var a collectAnswer
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &a) != nil {
		t.Fatalf("collect: %d %s", resp.StatusCode, b)
	}
	return resp, a
}

// TestCollectKeepsFirstPartyCookies: for a page of its own site, the
// collector sets _vt_vid and an HttpOnly _vt_uid on /v1/collect answers and
// never shows the token to the script; the cookie alone recognizes the
// browser in a later visit, after the first timed out.
func TestCollectKeepsFirstPartyCookies(t *testing.T) {
	col := firstPartyCollector(t, "--visit-timeout", "300ms")
	resp, a := collect(t, col, samePage, nil, map[string]any{"cookies": "auto", "events": []protocol.Event{signInEvent("ada")}})
	if resp.Header.Get("Access-Control-Allow-Credentials") != "true" || resp.Header.Get("Access-Control-Allow-Origin") != samePage {
		t.Fatalf("CORS headers: %v", resp.Header)
	}
	if a.Cookies != protocol.CookiesServer || a.Identity == nil || !a.Identity.Verified || a.Identity.Recognition != nil {
		t.Fatalf("answer = %+v %+v: want cookies server, verified, and no token for the script", a, a.Identity)
	}
	uid, vid := setCookie(resp, "_vt_uid"), setCookie(resp, "_vt_vid")
	if uid == nil || !uid.HttpOnly || uid.SameSite != http.SameSiteLaxMode || uid.Path != "/" || uid.Secure || uid.MaxAge <= 0 {
		t.Fatalf("_vt_uid = %+v, want HttpOnly, Lax, Path=/, not Secure on http", uid)
	}
	if vid == nil || vid.Value != a.VisitorID || vid.HttpOnly {
		t.Fatalf("_vt_vid = %+v, want %s", vid, a.VisitorID)
	}
	key := setCookie(resp, "_vt_key")
	if key == nil || !key.HttpOnly || key.Value == "" || a.VisitorKey != "" {
		t.Fatalf("_vt_key = %+v, body key %q: want the key in an HttpOnly cookie only", key, a.VisitorKey)
	}

	waitVisitEnded(t, col, a.VisitID)
	// The next page sends no ids and no token: the cookies speak.
	resp, b := collect(t, col, samePage, []*http.Cookie{uid, vid, key}, map[string]any{"cookies": "auto", "visitId": a.VisitID})
	if b.VisitID == a.VisitID || b.VisitorID != a.VisitorID {
		t.Fatalf("after the timeout: %+v, want a new visit of visitor %s", b, a.VisitorID)
	}
	if b.Identity == nil || b.Identity.State != protocol.StateRecognized || !b.Identity.Verified || b.Identity.Recognition != nil {
		t.Fatalf("identity from the cookie = %+v, want recognized and verified", b.Identity)
	}
	if c := setCookie(resp, "_vt_uid"); c == nil || c.Value != uid.Value || !c.HttpOnly {
		t.Fatalf("_vt_uid after recognition = %+v", c)
	}

	// SignOut over HTTP clears the cookie on the answer.
	resp, o := collect(t, col, samePage, []*http.Cookie{uid, vid, key}, map[string]any{"cookies": "auto", "visitId": b.VisitID,
		"events": []protocol.Event{collectortest.Event(protocol.EventSignOut, "", nil)}})
	if c := setCookie(resp, "_vt_uid"); o.Identity == nil || o.Identity.State != protocol.StateAnonymous || c == nil || c.MaxAge >= 0 || !c.HttpOnly {
		t.Fatalf("after SignOut: identity %+v, _vt_uid %+v, want it cleared", o.Identity, c)
	}
}

// TestCollectScriptModeAndOtherSites: the collector keeps no cookies for a
// tracker that does not ask (script mode, or a tracker older than this
// mode), nor for a page of another site, nor for an origin that only "*"
// allows; the token then goes to the script as before.
func TestCollectScriptModeAndOtherSites(t *testing.T) {
	cases := map[string]struct {
		col    *collectortest.Collector
		origin string
		mode   string
	}{
		"script mode":  {firstPartyCollector(t), samePage, ""},
		"other site":   {firstPartyCollector(t), otherPage, "auto"},
		"only * lists": {collectortest.Start(t, "--identity-secret", secret, "--allowed-origins", "*"), samePage, "auto"},
	}
	for name, tc := range cases {
		resp, a := collect(t, tc.col, tc.origin, nil, map[string]any{"cookies": tc.mode, "events": []protocol.Event{signInEvent("ada")}})
		if len(resp.Cookies()) != 0 || a.Cookies != "" {
			t.Errorf("%s: Set-Cookie %v, cookies %q: want none", name, resp.Header["Set-Cookie"], a.Cookies)
		}
		if a.Identity == nil || a.Identity.Recognition == nil {
			t.Errorf("%s: identity = %+v, want the token for the script", name, a.Identity)
		}
	}
}

// TestCookieSecureBehindTrustedProxy: Secure follows the scheme the
// browser used, which only a trusted proxy may report.
func TestCookieSecureBehindTrustedProxy(t *testing.T) {
	send := func(col *collectortest.Collector, proto string) *http.Cookie {
		t.Helper()
		b, _ := json.Marshal(map[string]any{"cookies": "auto", "cookieDomain": "shop.example", "events": []protocol.Event{}})
		req, _ := http.NewRequest("POST", col.URL()+"/v1/collect", bytes.NewReader(b))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("Origin", "https://shop.example")
		req.Header.Set("X-Forwarded-Proto", proto)
		req.Header.Set("X-Forwarded-Host", "vt.shop.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return setCookie(resp, "_vt_vid")
	}
	trusting := collectortest.Start(t, "--allowed-origins", "https://shop.example", "--trusted-proxies", "127.0.0.1/32")
	for _, proto := range []string{"https", "http"} {
		if vid := send(trusting, proto); vid == nil || vid.Secure != (proto == "https") || vid.Domain != "shop.example" {
			t.Fatalf("%s: _vt_vid = %+v, want Secure only on https, Domain=shop.example", proto, vid)
		}
	}
	// Without --trusted-proxies the forwarded host is not believed: the
	// collector at 127.0.0.1 is another site than shop.example.
	if vid := send(collectortest.Start(t, "--allowed-origins", "https://shop.example"), "https"); vid != nil {
		t.Fatalf("untrusted proxy headers believed: %+v", vid)
	}
}

// TestBadCookiesAreIgnored: an oversize or malformed _vt_uid, or a token of
// another collector, is ignored and cleared; the events beside it are
// stored.
func TestBadCookiesAreIgnored(t *testing.T) {
	col := firstPartyCollector(t)
	other := collectortest.Start(t)
	oc := collectortest.Dial(t, other.WSURL(), protocol.Hello{})
	_, id := oc.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada"}))
	for name, value := range map[string]string{
		"oversize":      "v1." + strings.Repeat("A", 5000),
		"malformed":     "v1.%%%",
		"foreign token": *id.Recognition,
	} {
		resp, a := collect(t, col, samePage, []*http.Cookie{{Name: "_vt_uid", Value: value}, {Name: "_vt_vid", Value: strings.Repeat("Z", 4000)}},
			map[string]any{"cookies": "auto", "events": []protocol.Event{collectortest.Event("Browse", "", nil)}})
		if len(a.Ack.EventIDs) != 1 || a.Identity.State != protocol.StateAnonymous {
			t.Errorf("%s: answer %+v identity %+v", name, a, a.Identity)
		}
		if c := setCookie(resp, "_vt_uid"); c == nil || c.MaxAge >= 0 {
			t.Errorf("%s: _vt_uid = %+v, want it cleared", name, c)
		}
	}
}

// TestHandshakeCookies: the WebSocket handshake answer clears a bad
// _vt_uid and slides _vt_vid, and the welcome says whether the tracker
// must post what hello settled to /v1/cookies.
func TestHandshakeCookies(t *testing.T) {
	col := firstPartyCollector(t)
	dial := func(query string, cookies ...*http.Cookie) (*collectortest.Client, *http.Response) {
		t.Helper()
		h := http.Header{"Origin": {samePage}}
		for _, c := range cookies {
			h.Add("Cookie", c.String())
		}
		return collectortest.DialWith(t, col.WSURL()+query, h, protocol.Hello{})
	}
	c, resp := dial("?cookies=auto")
	if c.Welcome.Cookies != protocol.CookiesSync || len(resp.Cookies()) != 0 {
		t.Fatalf("new visitor: welcome cookies %q, Set-Cookie %v: want sync, none", c.Welcome.Cookies, resp.Header["Set-Cookie"])
	}
	_, idn := c.SendEvents(true, signInEvent("ada"))
	if idn.Recognition == nil {
		t.Fatal("no token after a verified SignIn")
	}
	vid := &http.Cookie{Name: "_vt_vid", Value: c.Welcome.VisitorID}
	key := &http.Cookie{Name: "_vt_key", Value: c.Welcome.VisitorKey}
	uid := &http.Cookie{Name: "_vt_uid", Value: *idn.Recognition}

	c, resp = dial("?cookies=auto", vid, key, uid)
	if c.Welcome.Cookies != protocol.CookiesServer || c.Welcome.Recognition != nil || c.Welcome.VisitorKey != "" || !c.Welcome.Verified {
		t.Fatalf("cookies in place: welcome %+v, want server, verified, no token or key for the script", c.Welcome)
	}
	if v := setCookie(resp, "_vt_vid"); v == nil || v.Value != vid.Value || v.MaxAge < 365*24*3600 {
		t.Fatalf("handshake _vt_vid = %+v, want it slid", v)
	}

	c, resp = dial("?cookies=auto", vid, key, &http.Cookie{Name: "_vt_uid", Value: "v1.forged.AAAA"})
	if v := setCookie(resp, "_vt_uid"); v == nil || v.MaxAge >= 0 || !v.HttpOnly {
		t.Fatalf("forged _vt_uid: handshake Set-Cookie %+v, want it cleared", v)
	}
	if c.Welcome.Verified || c.Welcome.State != protocol.StateAnonymous {
		t.Fatalf("forged _vt_uid: welcome %+v", c.Welcome)
	}

	// Script mode: the same cookies are neither read nor written.
	c, resp = dial("", vid, key, uid)
	if c.Welcome.Cookies != "" || len(resp.Cookies()) != 0 || c.Welcome.Verified {
		t.Fatalf("script mode: welcome %+v, Set-Cookie %v", c.Welcome, resp.Header["Set-Cookie"])
	}
}

func waitVisitEnded(t *testing.T, col *collectortest.Collector, visitID string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var v visit
		col.Get("/v1/visits/"+visitID, &v)
		if v.EndedAt != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("visit %s did not end", visitID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
