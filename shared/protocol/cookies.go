package protocol

// First-party cookies and the cross-domain handoff (docs/identity.md).

// Values of Welcome.Cookies and CollectResponse.Cookies, and (CookiesAuto,
// CookiesServer) of the tracker's cookies setting, which it sends in
// CollectRequest.Cookies and the "cookies" query parameter of /v1/ws.
// Without one the collector leaves the cookies to the tracker, as trackers
// before first-party mode expect.
const (
	CookiesAuto = "auto"
	// CookiesServer: the collector keeps the cookies (Set-Cookie, _vt_uid
	// HttpOnly) and they are up to date; the tracker writes none of
	// _vt_vid and _vt_uid.
	CookiesServer = "server"
	// CookiesSync: as CookiesServer, but the WebSocket handshake could not
	// store what hello settled (a new visitor, a token the tracker sent in
	// hello): the tracker posts it to /v1/cookies.
	CookiesSync = "sync"
)

// TypeHandoff asks for a handoff token (browser to collector, with a
// RequestID) and carries it (collector to browser, same RequestID).
const TypeHandoff = "handoff"

// HandoffParam is the query parameter that carries a handoff token to the
// other site.
const HandoffParam = "_vt_x"

// Handoff is both directions of the handoff frame, and the answer of
// POST /v1/handoff (without Type and RequestID).
type Handoff struct {
	Type      string `json:"type,omitempty"`
	RequestID string `json:"requestId,omitempty"`
	Token     string `json:"token,omitempty"`
}

// HandoffRequest is the body of POST /v1/handoff: the ids and proofs the
// tracker would send to /v1/collect.
type HandoffRequest struct {
	VisitorID   string  `json:"visitorId"`
	VisitorKey  string  `json:"visitorKey,omitempty"`
	VisitID     string  `json:"visitId"`
	Recognition *string `json:"recognition"`
}

// CookiesRequest is the body of POST /v1/cookies: the tracker asks the
// collector to store the visitor's cookies after a WebSocket identity
// change. Recognition null clears _vt_uid.
type CookiesRequest struct {
	VisitorID    string  `json:"visitorId"`
	VisitorKey   string  `json:"visitorKey,omitempty"` // or the _vt_key cookie
	Recognition  *string `json:"recognition"`
	CookieDomain string  `json:"cookieDomain,omitempty"`
	// Forget revokes the recognition token the browser holds (in
	// Recognition, or the collector's _vt_uid cookie) as SignOut does, and
	// clears every cookie the collector keeps (the visitor refused
	// consent: scripts cannot delete HttpOnly ones); nothing else is
	// needed with it.
	Forget bool `json:"forget,omitempty"`
}
