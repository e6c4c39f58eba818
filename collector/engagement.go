package collector

// Scopes of the engagement endpoints (docs/engagement.md): read the
// categories, rules and their figures; write the categories and rules.
const (
	ScopeEngagementRead  = "engagement:read"
	ScopeEngagementWrite = "engagement:write"
)
