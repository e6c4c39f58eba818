// Package agent is the tracker's brain, in plain Go: it turns the site's
// commands and the page's life into events, keeps the visitor's ids in
// cookies, holds unacknowledged events in a bounded outbox, and delivers
// them over a WebSocket or HTTP, reconnecting with backoff. It knows the
// browser only through Env, so it is tested natively with a fake one; the
// tracker's main package implements Env with syscall/js.
//
// An Agent is not safe for concurrent use: every method, and every callback
// it hands to Env, must run on one goroutine (the tracker's event loop).
package agent

import "github.com/visitrack/visitrack/shared/protocol"

// Env is the browser as the agent sees it. Callbacks the agent passes to
// After, Dial and Post must be called on the agent's goroutine, never from
// inside the call that registered them.
type Env interface {
	// Now returns the browser clock in Unix milliseconds.
	Now() int64
	// Timestamp formats Unix milliseconds as the protocol's timestamps,
	// RFC 3339 in UTC with milliseconds (2026-11-21T10:00:00.123Z), as
	// wire.Timestamp does: the browser's Date does it for less download.
	Timestamp(ms int64) string
	// Random fills p with cryptographically random bytes.
	Random(p []byte)

	// Cookies returns document.cookie; SetCookie assigns to it.
	Cookies() string
	SetCookie(assignment string)

	// Load, Store, Remove and Keys reach localStorage; they do nothing (Load
	// returns "") where storage is unavailable.
	Load(key string) string
	Store(key, value string)
	Remove(key string)
	Keys(prefix string) []string

	// After calls f after ms milliseconds unless cancel is called first.
	After(ms int64, f func()) (cancel func())

	// Page describes the page the tracker runs in, as of now.
	Page() Page

	// Dial opens a WebSocket with the visitrack subprotocol, or returns nil
	// where the browser has none.
	Dial(url string, ev SocketEvents) Socket
	// Post sends body as text/plain to url and hands the decoded answer, or
	// an error, to done.
	Post(url, body string, done func(*protocol.CollectResponse, error))
	// Beacon hands body to navigator.sendBeacon, which delivers it even if
	// the page unloads; false when the browser refused it.
	Beacon(url, body string) bool
}

// Page is what the tracker knows about the page.
type Page struct {
	_                    noEq
	URL, Title, Referrer string
	Language, TimeZone   string
	Screen               string // "1920x1080"
	Secure               bool   // served over https: cookies get Secure
	GPC                  bool   // navigator.globalPrivacyControl
	// Handoff is the handoff token the loader took out of the address
	// (_vt_x), presented once.
	Handoff string
}

// Socket is an open (or opening) WebSocket.
type Socket interface {
	Send(text string)
	Close()
}

// SocketEvents are a socket's callbacks; Close is called once, also when
// the connection never opened.
type SocketEvents struct {
	Open    func()
	Message func(*Message)
	Close   func(code int)
}

// Message is one decoded frame from the collector: Type says which field is
// set.
type Message struct {
	Type        string
	Welcome     protocol.Welcome
	Ack         protocol.Ack
	Identity    protocol.Identity
	VisitorData protocol.VisitorDataView
	Error       protocol.Error
	// Notification is a backend's message to this visit's open pages.
	Notification protocol.Notification
	Handoff      protocol.Handoff
	// RequestID of a visitorData frame that answers an update, when the
	// collector says which.
	RequestID string
}

// Reply settles the promise (or calls the callback) of one command.
type Reply interface {
	// Resolve is given an IDs, a VisitorData, a Stats or nil.
	Resolve(v any)
	Reject(code, message string)
}

// Subscriber hears of visitor data now and on every change.
type Subscriber interface {
	VisitorData(vd VisitorData)
}

// IDs answers getIDs. IdentityID is empty while anonymous.
type IDs struct {
	_                                             noEq
	VisitorID, VisitID, PageID, IdentityID, State string
	Verified                                      bool
}

// VisitorData is the shareable visitor data the browser holds; JSON is an
// object.
type VisitorData struct {
	_       noEq
	Version int64
	JSON    string
}

// Stats tells how delivery goes: events waiting for an ack, and events
// dropped because the outbox was full.
type Stats struct {
	_         noEq
	Queued    int
	Dropped   int64
	Transport string // "websocket", "http" or "" while not connected
}

// noEq, a struct's first field, makes the struct incomparable, so that the
// compiler emits no equality function for it: nothing compares these
// values, and each function would cost the download about 1 KB raw.
type noEq [0]func()
