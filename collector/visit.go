package collector

import (
	"encoding/json"
	"time"
)

// Visit is one continuous stretch of a visitor's activity, across tabs.
type Visit struct {
	VisitID    string     `json:"visitId"`
	VisitorID  string     `json:"visitorId"`
	IdentityID *string    `json:"identityId"`
	SessionID  string     `json:"sessionId"`
	State      string     `json:"state"`
	Verified   bool       `json:"verified"`
	StartedAt  time.Time  `json:"startedAt"`
	LastSeenAt time.Time  `json:"lastSeenAt"`
	EndedAt    *time.Time `json:"endedAt"`
	LandingURL string     `json:"landingUrl"`
	Referrer   string     `json:"referrer"`
	UserAgent  string     `json:"userAgent"`
	PageCount  int        `json:"pageCount"`
	EventCount int        `json:"eventCount"`
	VisitInsight
}

// VisitInsight is what the collector learned about a visit when it opened
// (docs/stats.md#what-the-collector-learns-about-a-visit): from the User-Agent, the landing URL, the referrer and,
// with a GeoIP database, the client address. UTM and ClickIDs are objects.
type VisitInsight struct {
	Browser        string          `json:"browser"`
	BrowserVersion string          `json:"browserVersion"`
	OS             string          `json:"os"`
	DeviceType     string          `json:"deviceType"`
	Bot            bool            `json:"bot"`
	BotReason      string          `json:"botReason,omitempty"`
	ReferrerType   string          `json:"referrerType"`
	UTM            json.RawMessage `json:"utm"`
	ClickIDs       json.RawMessage `json:"clickIds"`
	Country        string          `json:"country,omitempty"`
	Region         string          `json:"region,omitempty"`
	City           string          `json:"city,omitempty"`
	// Reached is the most identified state of the visit so far, and
	// WasVerified whether it was ever verified: a SignOut does not undo them.
	Reached     string `json:"reached"`
	WasVerified bool   `json:"wasVerified"`
	// Cookieless visits were counted before consent, with no ids.
	Cookieless bool `json:"cookieless"`
}

// Session is a stretch of a visit under one identity (or none).
type Session struct {
	SessionID  string     `json:"sessionId"`
	VisitID    string     `json:"visitId"`
	IdentityID *string    `json:"identityId"`
	State      string     `json:"state"`
	Verified   bool       `json:"verified"`
	StartedAt  time.Time  `json:"startedAt"`
	EndedAt    *time.Time `json:"endedAt"`
}

// Page is one page view in a visit.
type Page struct {
	PageID     string     `json:"pageId"`
	VisitID    string     `json:"visitId"`
	URL        string     `json:"url"`
	Title      string     `json:"title"`
	Referrer   string     `json:"referrer"`
	EnteredAt  time.Time  `json:"enteredAt"`
	ExitedAt   *time.Time `json:"exitedAt"`
	DurationMS *int64     `json:"durationMs"`
}

// Event is a stored event. Timestamp is the browser's clock; CorrectedAt is
// Timestamp shifted by the difference between the browser's sentAt and the
// collector's receivedAt, so that a wrong browser clock does not scramble
// history. Lists are ordered by CorrectedAt.
type Event struct {
	EventID     string          `json:"eventId"`
	VisitID     string          `json:"visitId"`
	VisitorID   string          `json:"visitorId"`
	SessionID   string          `json:"sessionId"`
	IdentityID  *string         `json:"identityId"`
	PageID      string          `json:"pageId,omitempty"`
	Name        string          `json:"name"`
	Category    string          `json:"category"`
	Timestamp   time.Time       `json:"timestamp"`
	CorrectedAt time.Time       `json:"correctedAt"`
	ReceivedAt  time.Time       `json:"receivedAt"`
	URL         string          `json:"url,omitempty"`
	Title       string          `json:"title,omitempty"`
	Referrer    string          `json:"referrer,omitempty"`
	Data        json.RawMessage `json:"data"`
}

// Identity is a known person, keyed by the site's own userId.
type Identity struct {
	IdentityID  string          `json:"identityId"`
	UserID      string          `json:"userId"`
	Attributes  json.RawMessage `json:"attributes"`
	FirstSeenAt time.Time       `json:"firstSeenAt"`
	LastSeenAt  time.Time       `json:"lastSeenAt"`
	VisitorIDs  []string        `json:"visitorIds"`
	// FirstTouch and LastTouch are the attribution of the visits that
	// brought the identity ({at, landingUrl, referrer, referrerType, utm}),
	// set at each proven link; null before the first.
	FirstTouch json.RawMessage `json:"firstTouch"`
	LastTouch  json.RawMessage `json:"lastTouch"`
}

// VisitIdentity says how an identity is linked to a visit.
type VisitIdentity struct {
	IdentityID string    `json:"identityId"`
	UserID     string    `json:"userId"`
	How        string    `json:"how"` // authenticated, recognized or stitched
	Verified   bool      `json:"verified"`
	LinkedAt   time.Time `json:"linkedAt"`
}

// How an identity is linked to a visit.
const (
	LinkAuthenticated = "authenticated"
	LinkRecognized    = "recognized"
	LinkStitched      = "stitched"
)
