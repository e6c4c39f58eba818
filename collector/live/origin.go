package live

import (
	"net/http"
	"strings"
)

// originKey returns the form of a web origin (scheme://host[:port]) that
// allowed origins are compared in, or "" for one that is never allowed.
//
// Browsers serialise an Origin header in lower case and without the
// scheme's default port, so an operator's "https://Shop.Example:443" must
// compare equal to the "https://shop.example" the browser sends; anything
// else (another port, scheme or host, a longer host that merely starts
// the same) stays a different origin. "null" is the opaque origin of
// sandboxed frames, file: pages and cross-site redirects: any site can
// produce it, so it names no one and is never allowed by name.
func originKey(o string) string {
	o = strings.ToLower(o)
	if o == "" || o == "null" {
		return ""
	}
	if s, ok := strings.CutSuffix(o, ":443"); ok && strings.HasPrefix(o, "https://") {
		return s
	}
	if s, ok := strings.CutSuffix(o, ":80"); ok && strings.HasPrefix(o, "http://") {
		return s
	}
	return o
}

// originAllowed reports whether the request's Origin may use the browser
// endpoints. A request without Origin is not from a browser page (a
// server, a test client) and carries no ambient cookies to abuse. The
// comparison is exact but for what browsers normalise (see originKey).
func (h *Hub) originAllowed(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || h.anyOrig || h.origins[originKey(o)]
}
