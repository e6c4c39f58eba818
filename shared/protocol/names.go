package protocol

// Subprotocol is the WebSocket subprotocol both sides must agree on.
const Subprotocol = "visitrack.v1"

// Message types, browser to collector.
const (
	TypeHello             = "hello"
	TypeEvents            = "events"
	TypeVisitorDataUpdate = "visitorData.update"
)

// Message types, collector to browser.
const (
	TypeWelcome     = "welcome"
	TypeAck         = "ack"
	TypeIdentity    = "identity"
	TypeVisitorData = "visitorData"
	TypeError       = "error"
	// TypeNotification carries a backend's notification to the visit's
	// open pages (docs/integrations.md#notifications); it is not stored.
	TypeNotification = "notification"
)

// System event names. Any other name is a business event.
const (
	EventVisitStarted = "VisitStarted"
	EventPageEntered  = "PageEntered"
	EventPageExited   = "PageExited"
	EventSignIn       = "SignIn"
	EventSignOut      = "SignOut"
	EventUserInfo     = "UserInfo"
	// EventVisitEnded is written by the collector when a visit times out;
	// a browser may not send it.
	EventVisitEnded = "VisitEnded"
	// EventHandoffArrived is written by the collector when a browser comes
	// in through another site's handoff link: its data names the visitor
	// and visit that made the link. A browser may not send it.
	EventHandoffArrived = "HandoffArrived"
	// EventConsentChanged is sent by the tracker when the visitor's
	// consent changes while it may send: data {"state": ConsentGranted or
	// ConsentDenied, "source": "api", "gpc" or "consentMode"}. A
	// withdrawal is sent before the cookies go, so that the visit's
	// history shows it.
	EventConsentChanged = "ConsentChanged"
	// Engagement (docs/engagement.md): the collector writes
	// EngagementOffered when a rule makes an offer and EngagementTimedOut
	// when it was not answered in time; the page answers with
	// EngagementAccepted or EngagementDeclined, data {"offerId": …}, which
	// the collector takes only for an open offer of that visit.
	EventEngagementOffered  = "EngagementOffered"
	EventEngagementAccepted = "EngagementAccepted"
	EventEngagementDeclined = "EngagementDeclined"
	EventEngagementTimedOut = "EngagementTimedOut"
)

// Consent states a tracker states in hello and /v1/collect ("consent").
// A request that states none and carries the header Sec-GPC: 1 is
// counted as consent withheld: cookieless.
const (
	ConsentGranted = "granted"
	ConsentDenied  = "denied"
	ConsentUnset   = "unset"
)

// StatesConsent reports whether consent is one a tracker states:
// ConsentGranted, ConsentDenied or ConsentUnset. Any other value, ""
// included, states none.
func StatesConsent(consent string) bool {
	return consent == ConsentGranted || consent == ConsentDenied || consent == ConsentUnset
}

// Event categories.
const (
	CategorySystem   = "system"
	CategoryBusiness = "business"
)

// Visit states.
const (
	StateAnonymous     = "anonymous"
	StateRecognized    = "recognized"
	StateAuthenticated = "authenticated"
)

// Category tells whether name is a system or a business event.
func Category(name string) string {
	if IsSystemEvent(name) {
		return CategorySystem
	}
	return CategoryBusiness
}

// IsSystemEvent reports whether name is one of the system events.
func IsSystemEvent(name string) bool {
	switch name {
	case EventVisitStarted, EventPageEntered, EventPageExited,
		EventSignIn, EventSignOut, EventUserInfo, EventVisitEnded, EventHandoffArrived, EventConsentChanged,
		EventEngagementOffered, EventEngagementAccepted, EventEngagementDeclined, EventEngagementTimedOut:
		return true
	}
	return false
}

// IsIdentityEvent reports whether name changes the visit's identity.
func IsIdentityEvent(name string) bool {
	return name == EventSignIn || name == EventSignOut || name == EventUserInfo
}

// Error codes carried in ack rejections, error frames and problem details.
const (
	CodeInvalidEvent         = "invalid_event"
	CodeInvalidMessage       = "invalid_message"
	CodeTooLarge             = "too_large"
	CodeTooDeep              = "too_deep"
	CodeTooManyEvents        = "too_many_events"
	CodeInvalidID            = "invalid_id"
	CodeHelloRequired        = "hello_required"
	CodeUnknownType          = "unknown_type"
	CodeUnverifiedSignIn     = "unverified_signin"
	CodeNamespaceNotWritable = "namespace_not_writable"
	CodeInvalidVisitorData   = "invalid_visitor_data"
	CodeInternal             = "internal"
)

// CodeBlockedUserID refuses (Ack.Refused) a SignIn or UserInfo whose
// userId is a placeholder such as "guest" or "undefined": the event is
// stored, and links nobody.
const CodeBlockedUserID = "blocked_user_id"

// WebSocket close codes used by the collector (RFC 6455 section 7.4.1).
const (
	CloseGoingAway       = 1001 // collector shutting down: reconnect elsewhere
	ClosePolicyViolation = 1008 // protocol misuse, e.g. a frame before hello
	CloseTooBig          = 1009 // a frame over MaxBatchBytes
	CloseInternal        = 1011
	CloseTryAgainLater   = 1013 // over the per-client rate limit: back off
)
