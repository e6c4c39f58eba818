package collector

import (
	"context"
	"time"
)

// ListOptions pages through a list. Cursor is opaque: the NextCursor of the
// previous page, or empty for the first.
type ListOptions struct {
	Limit  int
	Cursor string
}

// Default and maximum list sizes (docs/api.md#lists-and-pagination).
const (
	DefaultLimit = 50
	MaxLimit     = 1000
)

// VisitFilter selects visits; zero fields match everything.
type VisitFilter struct {
	IdentityID string
	VisitorID  string
	State      string
	Since      time.Time
	Until      time.Time
	ListOptions
}

// EventFilter selects events; zero fields match everything.
type EventFilter struct {
	VisitID    string
	IdentityID string
	PageID     string
	// URL matches the event's url exactly; URLPrefix matches every url
	// that starts with it, byte for byte (no wildcards, case-sensitive).
	URL       string
	URLPrefix string
	Name      string
	Category  string
	Since     time.Time
	Until     time.Time
	ListOptions
}

// PageFilter selects the pages of one visit or of one identity (exactly
// one of VisitID and IdentityID); the other fields are optional. URL and
// Title match exactly, URLPrefix byte for byte.
type PageFilter struct {
	VisitID    string
	IdentityID string
	URL        string
	URLPrefix  string
	Title      string
	ListOptions
}

// HistoryService answers the History REST API. Methods return ENOTFOUND for
// an unknown id and EINVALID for a malformed cursor or filter.
type HistoryService interface {
	// FindVisits returns visits newest first, and the cursor of the next page
	// ("" on the last page).
	FindVisits(ctx context.Context, f VisitFilter) ([]*Visit, string, error)
	FindVisit(ctx context.Context, visitID string) (*Visit, error)
	// FindPages returns a visit's pages in the order they were entered.
	FindPages(ctx context.Context, visitID string, opt ListOptions) ([]*Page, string, error)
	FindPage(ctx context.Context, pageID string) (*Page, error)
	// ListPages returns the pages of a visit or of an identity (its
	// stitched visits included) in the order they were entered; ENOTFOUND
	// for an unknown visit or identity.
	ListPages(ctx context.Context, f PageFilter) ([]*Page, string, error)
	// FindEvents returns events in order of their corrected time.
	FindEvents(ctx context.Context, f EventFilter) ([]*Event, string, error)
	FindSessions(ctx context.Context, visitID string, opt ListOptions) ([]*Session, string, error)
	FindVisitIdentities(ctx context.Context, visitID string) ([]*VisitIdentity, error)
	FindIdentities(ctx context.Context, userID string, opt ListOptions) ([]*Identity, string, error)
	FindIdentity(ctx context.Context, identityID string) (*Identity, error)
	// FindIdentityVisits includes the anonymous visits stitched at SignIn.
	FindIdentityVisits(ctx context.Context, identityID string, opt ListOptions) ([]*Visit, string, error)

	// DeleteIdentity erases the identity and everything of it: its visits,
	// pages, events, sessions, visitor data and metadata, and the anonymous
	// visitors it signed in from. It leaves an Erasure record.
	DeleteIdentity(ctx context.Context, identityID string, opt EraseOptions) error
	// DeleteVisitor does the same for an anonymous visitor.
	DeleteVisitor(ctx context.Context, visitorID string, opt EraseOptions) error
}

// Token is an API bearer token. The secret itself is shown once, at
// creation; only its hash is stored.
type Token struct {
	TokenID   string     `json:"tokenId"`
	Scopes    []string   `json:"scopes"`
	CreatedAt time.Time  `json:"createdAt"`
	RevokedAt *time.Time `json:"revokedAt"`
}

// Scopes of the REST API.
const (
	ScopeHistoryRead      = "history:read"
	ScopeHistoryDelete    = "history:delete"
	ScopeVisitorDataRead  = "visitordata:read"
	ScopeVisitorDataWrite = "visitordata:write:" // + namespace or *
	ScopeMetadataRead     = "metadata:read"
	ScopeMetadataWrite    = "metadata:write"
	ScopeNotifyWrite      = "notify:write" // POST /v1/visits/{visitId}/notifications
	ScopeMetricsRead      = "metrics:read" // GET /metrics: traffic figures are not for everyone
	ScopeAdmin            = "admin"        // every scope; the admin token has it
)

// TokenService keeps API tokens.
type TokenService interface {
	// CreateToken stores a new token and returns it with its secret.
	CreateToken(ctx context.Context, scopes []string) (*Token, string, error)
	// Authenticate returns the live token whose secret is secret, or
	// EUNAUTHORIZED.
	Authenticate(ctx context.Context, secret string) (*Token, error)
	ListTokens(ctx context.Context) ([]*Token, error)
	RevokeToken(ctx context.Context, tokenID string) error
}

// HasScope reports whether t grants scope. "admin" grants everything, and
// "visitordata:write:*" grants every namespace.
func (t *Token) HasScope(scope string) bool {
	for _, s := range t.Scopes {
		if s == scope || s == ScopeAdmin {
			return true
		}
		if s == ScopeVisitorDataWrite+"*" && len(scope) > len(ScopeVisitorDataWrite) &&
			scope[:len(ScopeVisitorDataWrite)] == ScopeVisitorDataWrite {
			return true
		}
	}
	return false
}
