package enrich

import "strings"

// What is kept of a URL, a referrer and a version when nothing that could
// identify a visitor may be stored (cookieless visits, docs/security.md).
// Each returns a part of its input, without allocating, in the common case:
// ingest calls them for every event of a cookieless visit.

// URLWithoutQuery returns rawURL without its query and fragment, and
// without the user name and password an absolute URL may carry before its
// host: the parts where sites put e-mail addresses, tokens and session ids.
// Campaign parameters are read before (Campaign), not from what this keeps.
func URLWithoutQuery(rawURL string) string {
	if i := strings.IndexAny(rawURL, "?#"); i >= 0 {
		rawURL = rawURL[:i]
	}
	a, ok := authorityOf(rawURL)
	if !ok || a.host == a.start {
		return rawURL
	}
	return rawURL[:a.start] + rawURL[a.host:]
}

// ReferrerOrigin returns the origin of a referrer, "scheme://host[:port]/"
// as a browser sends it across sites, or "" when the referrer is not an
// absolute URL with a host. Its path and query are dropped: a referrer is
// another site's URL, and may carry a search, a name or a token.
func ReferrerOrigin(referrer string) string {
	a, ok := authorityOf(referrer)
	if !ok || a.end == a.host {
		return ""
	}
	if a.host > a.start {
		return referrer[:a.start] + referrer[a.host:a.end] + "/"
	}
	if a.end < len(referrer) && referrer[a.end] == '/' {
		return referrer[:a.end+1]
	}
	return referrer[:a.end] + "/"
}

// MajorVersion returns the leading number of a version ("131.0.6778.86"
// gives "131"), or "" when it does not start with a digit: the full build
// number of a browser narrows down who runs it.
func MajorVersion(v string) string {
	n := 0
	for n < len(v) && v[n] >= '0' && v[n] <= '9' {
		n++
	}
	return v[:n]
}

// authority locates the authority of an absolute URL: "scheme://" ends
// at start, a user part (up to the last '@') at host, and the host and
// port end at end (the first '/', '?' or '#', or the end of the URL).
type authority struct{ start, host, end int }

// authorityOf reports where u's authority lies; false when u is not
// "scheme://…" with a scheme of RFC 3986's characters.
func authorityOf(u string) (authority, bool) {
	i := strings.Index(u, "://")
	if i <= 0 || !isScheme(u[:i]) {
		return authority{}, false
	}
	a := authority{start: i + 3, end: len(u)}
	if j := strings.IndexAny(u[a.start:], "/?#"); j >= 0 {
		a.end = a.start + j
	}
	a.host = a.start
	if at := strings.LastIndexByte(u[a.start:a.end], '@'); at >= 0 {
		a.host = a.start + at + 1
	}
	return a, true
}

// isScheme reports whether s is a URL scheme: a letter, then letters,
// digits, '+', '-' or '.'.
func isScheme(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20 // lower case, for letters
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.'):
		default:
			return false
		}
	}
	return s != ""
}
