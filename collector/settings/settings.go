// Package settings reads what an operator sets in both builds of the
// collector: the native daemon (flags, each defaulting from its VISITRACK_*
// environment variable) and the edge (the Worker's variables of the same
// names). Each setting is named, defaulted, parsed and checked here once,
// so that the two builds cannot drift apart; each build keeps only what is
// its own (the daemon's data directory and listener, the edge's
// recognition key secret and sweep limit) and parses those with the same
// helpers (parse.go). See docs/architecture.md#one-settings-loader and
// docs/operations.md#flags-and-environment.
package settings

import (
	"fmt"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector/identity"
)

// The environment variables of the shared settings: "VISITRACK_" and the
// flag's name in upper case with underscores (EnvName).
const (
	EnvAllowedOrigins        = "VISITRACK_ALLOWED_ORIGINS"
	EnvVisitTimeout          = "VISITRACK_VISIT_TIMEOUT"
	EnvIdentitySecret        = "VISITRACK_IDENTITY_SECRET"
	EnvIdentityAudience      = "VISITRACK_IDENTITY_AUDIENCE"
	EnvRequireVerifiedSignIn = "VISITRACK_REQUIRE_VERIFIED_SIGNIN"
	EnvBrowserWritable       = "VISITRACK_BROWSER_WRITABLE"
	EnvBlockedUserIDs        = "VISITRACK_BLOCKED_USER_IDS"
	EnvRateLimit             = "VISITRACK_RATE_LIMIT"
	EnvMaxSocketsPerIP       = "VISITRACK_MAX_SOCKETS_PER_IP"
	EnvMergeUndoDays         = "VISITRACK_MERGE_UNDO_DAYS"
)

// EnvName is the environment variable of the flag --name.
func EnvName(flag string) string {
	return "VISITRACK_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Shared are the settings both builds have.
type Shared struct {
	// AllowedOrigins are the origins whose pages may send events; "*"
	// allows all.
	AllowedOrigins []string
	VisitTimeout   time.Duration
	// IdentitySecret proves SignIn (userHash, signInToken); "" verifies
	// none. IdentityAudience is the aud a signInToken must carry.
	IdentitySecret        string
	IdentityAudience      string
	RequireVerifiedSignIn bool
	// BrowserWritable are the visitor-data namespaces browsers may write.
	BrowserWritable []string
	// BlockedUserIDs link nobody, besides the placeholders that never do.
	BlockedUserIDs []string
	// RateLimit is the events per second one client address may send;
	// MaxSocketsPerIP the WebSockets it may hold (0: no limit, no cap).
	RateLimit       int
	MaxSocketsPerIP int
	// MergeUndo is how long after it finished a merge can be undone;
	// then what it recorded it moved (personal data) is deleted
	// (docs/data-subject.md). Set in whole days, 1 to 3650.
	MergeUndo time.Duration
}

// MaxMergeUndoDays bounds --merge-undo-days: ten years.
const MaxMergeUndoDays = 3650

// A Setting is one shared setting: Flag is the daemon's flag (without
// "--"), Env its environment variable, Default its text when unset, and
// Bool marks a switch (a flag that needs no value).
type Setting struct {
	Flag, Env, Default, Usage string
	Bool                      bool
	// set parses the text into s.
	set func(s *Shared, v string) error
}

// All returns the shared settings, a fresh slice on each call.
func All() []Setting {
	return []Setting{
		{Flag: "allowed-origins", Env: EnvAllowedOrigins,
			Usage: "comma-separated origins whose pages may send events (scheme://host[:port]); * allows all",
			set:   func(s *Shared, v string) error { s.AllowedOrigins = List(v); return nil }},
		{Flag: "visit-timeout", Env: EnvVisitTimeout, Default: "30m",
			Usage: "a visit ends after this long without events",
			set: func(s *Shared, v string) (err error) {
				if s.VisitTimeout, err = PositiveDuration(v); err != nil {
					return fmt.Errorf("%q: want a positive duration such as 30m", v)
				}
				return nil
			}},
		{Flag: "identity-secret", Env: EnvIdentitySecret,
			Usage: "secret the site's backend proves SignIn with (userHash or signInToken); without it no SignIn is verified",
			set:   func(s *Shared, v string) error { s.IdentitySecret = v; return nil }},
		{Flag: "identity-audience", Env: EnvIdentityAudience, Default: identity.DefaultAudience,
			Usage: "the aud a signInToken must carry, so that a token your backend signs with the same secret for something else is no proof",
			set: func(s *Shared, v string) (err error) {
				s.IdentityAudience, err = identity.ParseAudience(v)
				return err
			}},
		{Flag: "require-verified-signin", Env: EnvRequireVerifiedSignIn, Default: "false", Bool: true,
			Usage: "refuse SignIn without a valid userHash or signInToken",
			set: func(s *Shared, v string) (err error) {
				s.RequireVerifiedSignIn, err = Bool(v)
				return err
			}},
		{Flag: "browser-writable", Env: EnvBrowserWritable,
			Usage: "comma-separated visitor-data namespaces browsers may write",
			set:   func(s *Shared, v string) error { s.BrowserWritable = List(v); return nil }},
		{Flag: "blocked-user-ids", Env: EnvBlockedUserIDs,
			Usage: "comma-separated userIds that link nobody (compared trimmed, in any case), besides the placeholders that never do: \"\", anonymous, guest, null, undefined, 0, -1, none, unknown, [object Object], NaN",
			set:   func(s *Shared, v string) error { s.BlockedUserIDs = List(v); return nil }},
		{Flag: "rate-limit", Env: EnvRateLimit, Default: "1000",
			Usage: "events per second one client IP, or IPv6 /64, may send (burst twice that); 0 turns the limit off",
			set: func(s *Shared, v string) (err error) {
				if s.RateLimit, err = Count(v); err != nil {
					return fmt.Errorf("%q: want events per second, 0 for no limit", v)
				}
				return nil
			}},
		{Flag: "max-sockets-per-ip", Env: EnvMaxSocketsPerIP, Default: "500",
			Usage: "open WebSockets one client IP, or IPv6 /64, may hold; more get 429; 0 turns the cap off",
			set: func(s *Shared, v string) (err error) {
				if s.MaxSocketsPerIP, err = Count(v); err != nil {
					return fmt.Errorf("%q: want a number of sockets, 0 for no cap", v)
				}
				return nil
			}},
		{Flag: "merge-undo-days", Env: EnvMergeUndoDays, Default: "30",
			Usage: "days after it finished that an identity merge can be undone; then what the merge moved is no longer kept (it holds personal data) and the merge cannot be undone",
			set: func(s *Shared, v string) error {
				n, err := Count(v)
				if err != nil || n < 1 || n > MaxMergeUndoDays {
					return fmt.Errorf("%q: want a whole number of days from 1 to %d", v, MaxMergeUndoDays)
				}
				s.MergeUndo = time.Duration(n) * 24 * time.Hour
				return nil
			}},
	}
}

// Load parses and checks the shared settings. value returns a setting's
// text, its Default already applied when nobody set it; label names the
// setting in an error as the operator set it (the daemon's "--flag", the
// edge's variable).
func Load(value, label func(Setting) string) (Shared, error) {
	var s Shared
	all := All()
	byFlag := make(map[string]Setting, len(all))
	for _, set := range all {
		byFlag[set.Flag] = set
		if err := set.set(&s, value(set)); err != nil {
			return Shared{}, fmt.Errorf("%s: %w", label(set), err)
		}
	}
	if s.RequireVerifiedSignIn && s.IdentitySecret == "" {
		return Shared{}, fmt.Errorf("%s needs %s", label(byFlag["require-verified-signin"]), label(byFlag["identity-secret"]))
	}
	return s, nil
}

// FromEnv loads the shared settings from environment variables (the
// edge's Worker variables): an unset or empty one has its default, and an
// error names the variable.
func FromEnv(getenv func(string) string) (Shared, error) {
	return Load(func(s Setting) string {
		if v := getenv(s.Env); v != "" {
			return v
		}
		return s.Default
	}, func(s Setting) string { return s.Env })
}
