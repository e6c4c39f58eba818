package agent

import (
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/tracker/cookie"
	"github.com/visitrack/visitrack/tracker/wire"
)

// Cookie modes of Config.Cookies (docs/identity.md#cookies-kept-by-the-collector): who keeps _vt_vid,
// _vt_key and _vt_uid.
//
// The tracker carries no public-suffix list (it would cost the download
// more than the rest of this file), so it does not decide whether the page
// and the collector are the same site: the collector does, on every
// request the tracker marks with its mode, and says so in welcome and in
// /v1/collect answers ("cookies": "server" or "sync"). In auto mode the
// tracker keeps the cookies itself until told, and stops once told; the
// answer is remembered in localStorage so that the next page starts right,
// without rewriting a server-set cookie from script (Safari would then cap
// it at 7 days).
const (
	CookiesAuto   = protocol.CookiesAuto
	CookiesServer = protocol.CookiesServer
	CookiesScript = "script"
)

// modeKey is the localStorage item remembering that the collector keeps
// the cookies.
const modeKey = "_vt_cm"

// askServer is the mode the tracker sends: auto or server, or "" in script
// mode, where the collector must leave the cookies alone.
func (a *Agent) askServer() string {
	if a.cfg.Cookies == CookiesScript {
		return ""
	}
	return a.cfg.Cookies
}

// initCookieMode sets the mode at start, before the first cookie write.
func (a *Agent) initCookieMode() {
	a.srv = a.askServer() != "" && (a.cfg.Cookies == CookiesServer || a.env.Load(modeKey) != "")
}

// setServerCookies records what the collector answered. Once the
// collector keeps the cookies, the script copies of the key and token go:
// scripts are not to read them.
func (a *Agent) setServerCookies(on bool) {
	if a.askServer() == "" {
		return
	}
	if !on {
		if a.srv {
			// Another site after all: the tracker keeps the cookies.
			a.srv = false
			a.writeIDCookies(a.env.Now())
		}
		a.env.Remove(modeKey)
		return
	}
	a.srv = true
	a.env.Store(modeKey, "1")
	if a.token != "" || a.key != "" {
		at := a.attrs()
		a.env.SetCookie(cookie.Delete(cookie.User, at))
		a.env.SetCookie(cookie.Delete(cookie.Key, at))
	}
	a.token, a.key = "", ""
}

// postCookies asks the collector to store what a WebSocket conversation
// settled (its frames cannot set cookies): the visitor, its key when
// new, and the token, or none (SignOut). The body is a collect body
// without events, of which /v1/cookies reads the fields it knows.
func (a *Agent) postCookies(rec *string, key string, then func()) {
	tok := ""
	if rec != nil {
		tok = *rec
	}
	a.env.Post(a.cfg.Collector+"/v1/cookies", wire.Collect(a.visitorID, key, "", tok, true, 0, "", nil, "", a.cfg.CookieDomain, "", ""),
		func(_ *protocol.CollectResponse, err error) {
			if err == nil && then != nil {
				then()
			}
		})
}

// forget tells the collector that the visitor refused consent: it
// revokes the recognition token as SignOut does (the one this page keeps,
// sent along, or the collector's HttpOnly cookie), so that no copy of it
// recognizes anyone, and clears the cookies it keeps (scripts cannot
// delete HttpOnly ones).
func (a *Agent) forget() {
	if (!a.srv && a.token == "") || a.cfg.Collector == "" {
		return
	}
	a.srv = false
	a.env.Remove(modeKey)
	a.env.Post(a.cfg.Collector+"/v1/cookies", wire.Forget(a.token), func(*protocol.CollectResponse, error) {})
	a.token = ""
}

// wsQuery is the query of /v1/ws that carries the cookie mode.
func (a *Agent) wsQuery() string {
	if m := a.askServer(); m != "" {
		return "?cookies=" + m + "&cookieDomain=" + a.cfg.CookieDomain
	}
	return ""
}
