package live_test

import (
	"net/http"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestForgetRevokesTheToken: {"forget": true} (consent withdrawn) revokes
// the recognition token as SignOut does, whether the page keeps it (script
// mode: it sends it) or the collector does (first-party mode: the _vt_uid
// cookie); a copy of the token recognizes nobody afterwards.
func TestForgetRevokesTheToken(t *testing.T) {
	col := firstPartyCollector(t)
	recognizes := func(tok string) bool {
		t.Helper()
		c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &tok})
		return c.Welcome.State == protocol.StateRecognized
	}

	// Script mode: a page of another site keeps its own cookies.
	_, a := collect(t, col, otherPage, nil, map[string]any{"events": []protocol.Event{signInEvent("ada")}})
	tok := *a.Identity.Recognition
	if !recognizes(tok) {
		t.Fatal("the token did not recognize before forget")
	}
	resp, b := browserPost(t, col.URL()+"/v1/cookies", otherPage, nil, protocol.CookiesRequest{Forget: true, Recognition: &tok})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("forget in script mode: %d %s", resp.StatusCode, b)
	}
	if recognizes(tok) {
		t.Fatal("script mode: the token still recognizes after forget")
	}

	// First-party mode: the token is the collector's HttpOnly cookie.
	resp, _ = collect(t, col, samePage, nil, map[string]any{"cookies": "auto", "events": []protocol.Event{signInEvent("bea")}})
	uid := setCookie(resp, "_vt_uid")
	if uid == nil || !recognizes(uid.Value) {
		t.Fatalf("first-party SignIn: _vt_uid %+v", uid)
	}
	resp, b = browserPost(t, col.URL()+"/v1/cookies", samePage, []*http.Cookie{{Name: "_vt_uid", Value: uid.Value}}, protocol.CookiesRequest{Forget: true})
	if c := setCookie(resp, "_vt_uid"); resp.StatusCode != 200 || c == nil || c.MaxAge >= 0 {
		t.Fatalf("forget in first-party mode: %d %s, _vt_uid %+v", resp.StatusCode, b, c)
	}
	if recognizes(uid.Value) {
		t.Fatal("first-party mode: the cookie's token still recognizes after forget")
	}

	// Garbage is no error: there is nothing to revoke.
	junk := "v2.garbage.x"
	if resp, b := browserPost(t, col.URL()+"/v1/cookies", otherPage, nil, protocol.CookiesRequest{Forget: true, Recognition: &junk}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("forget with a forged token: %d %s", resp.StatusCode, b)
	}
}
