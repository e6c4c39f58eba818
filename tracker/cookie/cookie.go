// Package cookie reads and writes the tracker's first-party cookies through
// the document.cookie string, and holds the visit rule of docs/tracker.md#cookies:
// _vt_visit is "visitId.lastActivityUnixSeconds" and a visit goes on while
// its last activity is younger than the visit timeout.
package cookie

import "github.com/visitrack/visitrack/tracker/wire"

// Cookie names (docs/tracker.md#cookies).
const (
	Visitor = "_vt_vid"   // visitorId, 2 years
	Key     = "_vt_key"   // the browser key proving the visitorId, as long
	Visit   = "_vt_visit" // visitId.lastActivityUnixSeconds, sliding
	User    = "_vt_uid"   // recognition token, until SignOut, 1 year at most
)

// Lifetimes in seconds. Browsers may cap a cookie's lifetime (Chromium at
// 400 days); the tracker rewrites _vt_vid on every page so that it slides.
const (
	VisitorMaxAge = 2 * 365 * 24 * 3600
	UserMaxAge    = 365 * 24 * 3600
)

// Attrs are the attributes every tracker cookie gets besides its lifetime:
// Path=/ and SameSite=Lax always, Secure on https, Domain when set.
type Attrs struct {
	Domain string
	Secure bool
}

// Parse returns the cookies of a document.cookie string. When a name occurs
// twice (a cookie for a parent domain and one for the host), the first wins,
// as browsers list the more specific one first. The parts are read from
// the last, each overwriting: the first is written last, and no lookup is
// needed (a map lookup that reports presence costs the download 1.7 KB).
func Parse(s string) map[string]string {
	m := map[string]string{}
	for len(s) > 0 {
		part := s
		if i := lastIndexByte(s, ';'); i >= 0 {
			part, s = s[i+1:], s[:i]
		} else {
			s = ""
		}
		part = trim(part)
		eq := indexByte(part, '=')
		if eq <= 0 {
			continue
		}
		m[trim(part[:eq])] = unescape(trim(part[eq+1:]))
	}
	return m
}

// Set returns the document.cookie assignment that stores name=value for
// maxAge seconds.
func Set(name, value string, maxAge int64, a Attrs) string {
	b := make([]byte, 0, 96+len(value))
	b = append(b, name...)
	b = append(b, '=')
	b = escape(b, value)
	b = append(b, "; Path=/; Max-Age="...)
	b = wire.AppendInt(b, maxAge)
	b = append(b, "; SameSite=Lax"...)
	if a.Secure {
		b = append(b, "; Secure"...)
	}
	if a.Domain != "" {
		b = append(b, "; Domain="...)
		b = append(b, a.Domain...)
	}
	return string(b)
}

// Delete returns the document.cookie assignment that removes name. The
// attributes must match the ones it was set with.
func Delete(name string, a Attrs) string { return Set(name, "", 0, a) }

// VisitValue formats the _vt_visit value.
func VisitValue(visitID string, lastActivitySec int64) string {
	return string(wire.AppendInt(append([]byte(visitID), '.'), lastActivitySec))
}

// ParseVisit splits a _vt_visit value; ok is false when it is malformed.
func ParseVisit(v string) (visitID string, lastActivitySec int64, ok bool) {
	i := lastIndexByte(v, '.')
	if i <= 0 || i == len(v)-1 || len(v)-i > 20 {
		return "", 0, false
	}
	for _, c := range []byte(v[i+1:]) {
		if c < '0' || c > '9' {
			return "", 0, false
		}
		lastActivitySec = lastActivitySec*10 + int64(c-'0')
	}
	return v[:i], lastActivitySec, true
}

// Continues reports whether a visit last active at lastSec (Unix seconds)
// is still going on at nowMS (Unix milliseconds) with the given timeout.
func Continues(lastSec, nowMS, timeoutMS int64) bool {
	return nowMS-lastSec*1000 < timeoutMS
}

// cookieOctet reports whether c may appear in a cookie value unescaped
// (RFC 6265 cookie-octet, minus '%' which escapes).
func cookieOctet(c byte) bool {
	return c == 0x21 || c >= 0x23 && c <= 0x2B && c != '%' || c >= 0x2D && c <= 0x3A ||
		c >= 0x3C && c <= 0x5B || c >= 0x5D && c <= 0x7E
}

func escape(dst []byte, s string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if cookieOctet(c) {
			dst = append(dst, c)
		} else {
			dst = append(dst, '%', hex[c>>4], hex[c&15])
		}
	}
	return dst
}

func unescape(s string) string {
	if indexByte(s, '%') < 0 {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b = append(b, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func lastIndexByte(s string, c byte) int {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
