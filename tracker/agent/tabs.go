package agent

import (
	"github.com/visitrack/visitrack/tracker/cookie"
	"github.com/visitrack/visitrack/tracker/wire"
)

// A visit is shared by the site's open tabs, but a verified visit goes on
// only for a connection that presents the visit's recognition token
// (docs/security.md#browser-key). When one tab signs in or out,
// it writes a new identity epoch to localStorage; the other tabs see it
// before they next send, take the token from the cookie (or, in
// first-party mode, from the collector's cookie on a new handshake) and
// open a new conversation, which the collector settles with that token.

// epochKey is the localStorage item that tells the tabs of an identity
// change.
const epochKey = "_vt_ie"

// identityShifted records that this tab's identity changed, for the
// other tabs. In first-party mode it is called once the collector has
// set the new token's cookie, so that another tab's handshake carries it.
func (a *Agent) identityShifted() {
	a.epoch = string(wire.AppendInt(nil, a.env.Now()))
	a.env.Store(epochKey, a.epoch)
}

// followTabs reports whether another tab changed the identity since this
// one last looked: then the token is read again from the cookie and the
// conversation starts over (the caller sends after the welcome).
func (a *Agent) followTabs() bool {
	e := a.env.Load(epochKey)
	if e == a.epoch {
		return false
	}
	a.epoch = e
	if !a.srv && a.consent != -1 {
		a.token = cookie.Parse(a.env.Cookies())[cookie.User]
	}
	if a.welcomed {
		a.reconnect()
		return true
	}
	return false
}
