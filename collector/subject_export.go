package collector

import (
	"context"
	"encoding/json"
	"time"
)

// ScopeSubjectExport reads everything stored about one person, for the
// person's right of access and portability (docs/security.md). It is a
// scope of its own because it reads across history, visitor data and
// internal metadata at once; admin grants it too.
const ScopeSubjectExport = "subject:export"

// Record types of a subject export, in the order they come: the subject
// first (identity, or visitor), then the browsers, merges, visitor data
// with the webhook deliveries that carry copies of it, and visit links;
// then each visit followed by its sessions, pages, events (a consent
// change right after its event), its events' webhook deliveries and its
// internal metadata. A client that meets a type it does not know skips it.
const (
	RecordIdentity      = "identity"
	RecordVisitor       = "visitor"
	RecordMerge         = "merge"
	RecordVisitorData   = "visitorData"
	RecordVisitLink     = "visitLink"
	RecordVisit         = "visit"
	RecordSession       = "session"
	RecordPage          = "page"
	RecordEvent         = "event"
	RecordConsentChange = "consentChange"
	RecordDelivery      = "webhookDelivery"
	RecordMetadata      = "metadata"
)

// SubjectRecordTypes returns every record type an export may hold, for its
// header; each call a fresh slice.
func SubjectRecordTypes() []string {
	return []string{RecordIdentity, RecordVisitor, RecordMerge, RecordVisitorData,
		RecordVisitLink, RecordVisit, RecordSession, RecordPage, RecordEvent, RecordConsentChange,
		RecordDelivery, RecordMetadata}
}

// EventConsentChanged is the event a visit records when the visitor's
// consent changes; an export lists each also as a consent change.
const EventConsentChanged = "ConsentChanged"

// SubjectRecord is one item of a subject export: Type is one of the
// Record constants and Value the resource, which the API writes with a
// "type" field added.
type SubjectRecord struct {
	Type  string
	Value any
}

// ExportIdentity is the identity as the History API shows it, with every
// userId that names it: its own and those of the identities merged into
// it (their aliases).
type ExportIdentity struct {
	*Identity
	UserIDs []string `json:"userIds"`
}

// ExportVisitor is a browser of the subject: its id and when it was seen,
// never its key. LinkedAt is when an identity's export linked it (nil in
// a visitor's own export).
type ExportVisitor struct {
	VisitorID   string     `json:"visitorId"`
	FirstSeenAt *time.Time `json:"firstSeenAt"`
	LastSeenAt  *time.Time `json:"lastSeenAt"`
	LinkedAt    *time.Time `json:"linkedAt,omitempty"`
}

// ExportVisitorData is one visitor-data document of the subject (the
// identity's, or a browser's), every namespace in Data.
type ExportVisitorData struct {
	Subject   string          `json:"subject"` // "identity:<id>" or "visitor:<id>"
	Version   int64           `json:"version"`
	Data      json.RawMessage `json:"data"`
	UpdatedAt time.Time       `json:"updatedAt"`
}

// ExportVisitLink says how the identity is linked to one of its visits.
type ExportVisitLink struct {
	VisitID    string    `json:"visitId"`
	IdentityID string    `json:"identityId"`
	How        string    `json:"how"`
	Verified   bool      `json:"verified"`
	LinkedAt   time.Time `json:"linkedAt"`
}

// ExportVisit is a visit as the History API shows it, with the client
// address it was stored with (the API shows it nowhere else).
type ExportVisit struct {
	*Visit
	IP string `json:"ip,omitempty"`
}

// ExportEvent is an event as the History API shows it, with its client
// address.
type ExportEvent struct {
	*Event
	IP string `json:"ip,omitempty"`
}

// ExportConsentChange repeats a ConsentChanged event in short: when, in
// which visit, and the new state (the event's data).
type ExportConsentChange struct {
	EventID string          `json:"eventId"`
	VisitID string          `json:"visitId"`
	At      time.Time       `json:"at"`
	State   json.RawMessage `json:"state"`
}

// ExportDelivery is a webhook delivery that announces something of the
// subject: an event (EventID) or a visitor-data document (Body, the copy
// that will be sent). NextAt is set while it is pending.
type ExportDelivery struct {
	DeliveryID  string          `json:"deliveryId"`
	WebhookID   string          `json:"webhookId"`
	EventType   string          `json:"eventType"` // the webhook's event type: SignIn, business:<Name>, visitorData.changed
	EventID     *string         `json:"eventId"`
	Body        json.RawMessage `json:"body,omitempty"`
	CreatedAt   time.Time       `json:"createdAt"`
	Attempts    int             `json:"attempts"`
	NextAt      *time.Time      `json:"nextAt"`
	DeliveredAt *time.Time      `json:"deliveredAt"`
	FailedAt    *time.Time      `json:"failedAt"`
	LastError   string          `json:"lastError,omitempty"`
}

// SubjectExportService reads everything stored about one person.
type SubjectExportService interface {
	// ExportSubject calls fn with every record stored about s, in the
	// order of the Record constants' comment, holding one page of rows at
	// a time, so that memory stays flat however much is stored. What
	// belongs to an identity is what erasing it removes; within those
	// visits, sessions and events that carry another identity's id are
	// that person's and left out. A visitor's export holds the browser's
	// anonymous history only: a browser id proves no identity. ENOTFOUND
	// before any call of fn when nothing of s is stored; an error of fn
	// stops the export and is returned.
	ExportSubject(ctx context.Context, s Subject, fn func(SubjectRecord) error) error
}
