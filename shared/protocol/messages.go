package protocol

// Envelope is decoded first to learn a frame's type.
type Envelope struct {
	Type string `json:"type"`
}

// Hello opens a WebSocket conversation. VisitorID and VisitID come from the
// browser's cookies; either may be empty on a first visit, in which case the
// collector assigns one and returns it in Welcome.
type Hello struct {
	Type      string `json:"type"`
	VisitorID string `json:"visitorId"`
	// VisitorKey proves the browser is VisitorID: the key the collector
	// issued at its first contact (cookie _vt_key).
	VisitorKey  string  `json:"visitorKey,omitempty"`
	VisitID     string  `json:"visitId"`
	Recognition *string `json:"recognition"`
	// Recognize false presents Recognition only to prove the identity of
	// the visit the browser continues (autoRecognize off, or a visit the
	// browser has left): the collector never recognizes with it.
	Recognize          *bool  `json:"recognize,omitempty"`
	Tracker            string `json:"tracker,omitempty"`
	VisitorDataVersion int64  `json:"visitorDataVersion,omitempty"`
	// URL and Referrer of the page that connects, recorded on a new visit.
	URL      string `json:"url,omitempty"`
	Referrer string `json:"referrer,omitempty"`
	// Handoff is a handoff token the page found in its address (_vt_x):
	// the collector adopts the other site's visitor (docs/identity.md#cross-domain-handoff).
	Handoff string `json:"handoff,omitempty"`
	// Cookieless is a browser without consent to keep ids
	// (docs/identity.md#cookieless-visits): it sends no ids, and its visit is counted for the day only.
	Cookieless bool `json:"cookieless,omitempty"`
	// Consent is the visitor's consent as the tracker knows it:
	// ConsentGranted, ConsentDenied or ConsentUnset. Empty (a client that
	// states none) with the header Sec-GPC: 1 makes the visit cookieless.
	Consent string `json:"consent,omitempty"`
}

// Event is one event as the browser sends it. The collector, not the
// browser, decides identityId, visitorId, visitId, receivedAt and the IP.
type Event struct {
	EventID   string  `json:"eventId"`
	Name      string  `json:"name"`
	Timestamp string  `json:"timestamp"` // RFC 3339 with milliseconds, browser clock
	PageID    string  `json:"pageId,omitempty"`
	URL       string  `json:"url,omitempty"`
	Title     string  `json:"title,omitempty"`
	Referrer  string  `json:"referrer,omitempty"`
	Data      RawJSON `json:"data,omitempty"`
}

// Events carries a batch of events. SentAt is the browser clock when the
// frame was sent; the collector uses it to correct a skewed browser clock.
type Events struct {
	Type   string  `json:"type"`
	SentAt string  `json:"sentAt,omitempty"`
	Events []Event `json:"events"`
}

// VisitorDataUpdate asks to write one namespace from the browser; only
// namespaces the collector lists as browser-writable are accepted.
type VisitorDataUpdate struct {
	Type      string  `json:"type"`
	RequestID string  `json:"requestId,omitempty"`
	Namespace string  `json:"namespace"`
	Value     RawJSON `json:"value"`
}

// Welcome answers Hello with the visit the collector settled on.
// Recognition echoes a still-valid token, or is null: a tracker that holds a
// _vt_uid cookie deletes it when Recognition is null.
type Welcome struct {
	Type      string `json:"type"`
	VisitorID string `json:"visitorId"`
	// VisitorKey is the browser key to keep beside VisitorID and present
	// in every hello and collect request; a new one comes with new ids.
	VisitorKey  string          `json:"visitorKey,omitempty"`
	VisitID     string          `json:"visitId"`
	State       string          `json:"state"`
	IdentityID  *string         `json:"identityId"`
	Verified    bool            `json:"verified"`
	Recognition *string         `json:"recognition"`
	VisitorData VisitorDataView `json:"visitorData"`
	// Cookies is CookiesServer or CookiesSync when the collector keeps the
	// visitor's cookies itself (first-party mode), empty when the tracker
	// keeps them.
	Cookies string `json:"cookies,omitempty"`
}

// Ack acknowledges events after they are durably committed. Rejected
// events are reported here too, so that the tracker drops them. Refused
// events are among EventIDs (stored, not to be sent again) but did not
// do what they asked: a SignIn or UserInfo of a placeholder userId
// (CodeBlockedUserID) links nobody.
type Ack struct {
	Type     string      `json:"type,omitempty"`
	EventIDs []string    `json:"eventIds"`
	Rejected []Rejection `json:"rejected"`
	Refused  []Rejection `json:"refused,omitempty"`
}

// Rejection says why one event was refused.
type Rejection struct {
	EventID string `json:"eventId"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Identity tells the browser that its identity changed. Recognition is the
// token to keep in _vt_uid; null means delete the cookie.
type Identity struct {
	Type        string  `json:"type,omitempty"`
	State       string  `json:"state"`
	IdentityID  *string `json:"identityId"`
	Verified    bool    `json:"verified"`
	Recognition *string `json:"recognition"`
}

// VisitorDataView is the shareable visitor data sent to a browser. When it
// answers a visitorData.update it carries that request's RequestID, so the
// tracker can resolve the update's promise.
type VisitorDataView struct {
	Type      string  `json:"type,omitempty"`
	Version   int64   `json:"version"`
	Data      RawJSON `json:"data"`
	RequestID string  `json:"requestId,omitempty"`
}

// Error is sent for a frame the collector refuses as a whole.
type Error struct {
	Type      string `json:"type"`
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"requestId,omitempty"`
}

// CollectRequest is the body of POST /v1/collect, the HTTP transport.
type CollectRequest struct {
	VisitorID          string  `json:"visitorId"`
	VisitorKey         string  `json:"visitorKey,omitempty"`
	VisitID            string  `json:"visitId"`
	Recognition        *string `json:"recognition"`
	Recognize          *bool   `json:"recognize,omitempty"` // as in Hello
	VisitorDataVersion int64   `json:"visitorDataVersion"`
	SentAt             string  `json:"sentAt,omitempty"`
	Events             []Event `json:"events"`
	Handoff            string  `json:"handoff,omitempty"`    // as in Hello
	Cookieless         bool    `json:"cookieless,omitempty"` // as in Hello
	Consent            string  `json:"consent,omitempty"`    // as in Hello
	// Cookies is CookiesAuto or CookiesServer when the tracker lets the
	// collector keep its cookies (first-party mode); CookieDomain is its
	// cookieDomain. The WebSocket takes both as query parameters of
	// /v1/ws.
	Cookies      string `json:"cookies,omitempty"`
	CookieDomain string `json:"cookieDomain,omitempty"`
}

// CollectResponse answers POST /v1/collect. VisitorID and VisitID are what
// the collector settled on (a new visit when the old one ended). Identity is
// set when an event of the batch or the recognition token changed it;
// VisitorData when the stored version is newer than the request's.
type CollectResponse struct {
	VisitorID   string           `json:"visitorId"`
	VisitorKey  string           `json:"visitorKey,omitempty"`
	VisitID     string           `json:"visitId"`
	Ack         Ack              `json:"ack"`
	Identity    *Identity        `json:"identity,omitempty"`
	VisitorData *VisitorDataView `json:"visitorData,omitempty"`
	// Cookies is CookiesServer when the collector set the cookies on this
	// answer (first-party mode).
	Cookies string `json:"cookies,omitempty"`
	// Token is set only in the answer of POST /v1/handoff (protocol.Handoff),
	// which the tracker decodes with the same code as this one.
	Token string `json:"token,omitempty"`
}

// Notification is a backend's message to the open pages of one visit
// (Genesys's Notification API). ID is a ULID; Channel follows the rules
// of namespace names; Data is any JSON value. Notifications are not
// stored: a page that is not open when it is sent never sees it.
type Notification struct {
	Type string `json:"type"`
	// Kind is "offer" for an engagement offer (docs/engagement.md), which
	// also carries OfferID, RuleID and ExpiresAt; empty for a backend's
	// notification.
	Kind      string  `json:"kind,omitempty"`
	ID        string  `json:"id"`
	OfferID   string  `json:"offerId,omitempty"`
	RuleID    string  `json:"ruleId,omitempty"`
	Channel   string  `json:"channel"`
	Data      RawJSON `json:"data"`
	ExpiresAt string  `json:"expiresAt,omitempty"`
}

// KindOffer is the Kind of an engagement offer's notification.
const KindOffer = "offer"
