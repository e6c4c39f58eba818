package live

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// First-party cookies (docs/identity.md#cookies-kept-by-the-collector).
// When the page and the collector are the same site, the collector keeps
// the visitor's cookies itself with Set-Cookie: _vt_uid is then HttpOnly,
// so that no script can read the recognition token, and Safari keeps
// server-set cookies longer than the 7 days it grants script-set ones.
// Across sites the tracker keeps them in document.cookie as before. This
// file decides which of the two a request gets, and with what attributes
// the collector's cookies are written; cookies.go reads and writes them.

// firstParty is how the collector answers one request about cookies.
type firstParty struct {
	on     bool   // same site: the collector reads and writes the cookies
	secure bool   // https: cookies get Secure
	domain string // a validated cookieDomain, "" for host-only cookies
}

// firstParty decides whether the request comes from a page of the
// collector's own site. It must carry an Origin that --allowed-origins
// lists by name ("*" is for trying things out and never enables it), and
// the Origin's host and the host the browser addressed (see addressed)
// must share their registrable domain; an IP address or localhost is a
// site of its own. cookieDomain, the tracker's setting, becomes the
// cookies' Domain when it is the request host or a parent of it below
// the public suffix.
func (h *Hub) firstParty(r *http.Request, cookieDomain string) firstParty {
	o := r.Header.Get("Origin")
	if o == "" || h.cfg.Signer == nil || h.cfg.Links == nil || !h.origins[strings.ToLower(strings.TrimRight(o, "/"))] {
		return firstParty{}
	}
	originHost := o
	if i := strings.Index(o, "://"); i >= 0 {
		originHost = o[i+3:]
	}
	host, secure := h.addressed(r)
	if host == "" || !sameSite(hostOnly(originHost), host) {
		return firstParty{}
	}
	return firstParty{on: true, secure: secure, domain: cookieDomainFor(cookieDomain, host)}
}

// site is a host's registrable domain (eTLD+1 by the public suffix
// list); an IP address, localhost, or a host that is itself a public
// suffix stands for itself.
func site(host string) string {
	host = strings.TrimSuffix(host, ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return host
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return host
	}
	s, err := publicsuffix.EffectiveTLDPlusOne(host)
	if err != nil {
		return host
	}
	return s
}

// sameSite reports whether two hosts are the same site, as browsers
// decide SameSite (ports and schemes aside).
func sameSite(a, b string) bool { return a != "" && site(a) == site(b) }

// cookieDomainFor returns d (without a leading dot) when a cookie for
// host may carry Domain=d: d is host or a parent of it, and not a public
// suffix or an IP address. Otherwise "" (a host-only cookie).
func cookieDomainFor(d, host string) string {
	d = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(d), "."))
	if d == "" || len(d) > 253 {
		return ""
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return ""
	}
	if d != host && !strings.HasSuffix(host, "."+d) {
		return ""
	}
	if _, err := publicsuffix.EffectiveTLDPlusOne(d); err != nil {
		return "" // a public suffix (co.uk) or a bare name
	}
	return d
}

// wantsServerCookies reports whether the tracker lets the collector keep
// its cookies (its cookies setting, auto or server).
func wantsServerCookies(mode string) bool {
	return mode == protocol.CookiesAuto || mode == protocol.CookiesServer
}

// set writes a Set-Cookie for name.
func (p firstParty) set(w http.ResponseWriter, name, value string, maxAge time.Duration, httpOnly bool) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", Domain: p.domain, MaxAge: int(maxAge / time.Second),
		HttpOnly: httpOnly, Secure: p.secure, SameSite: http.SameSiteLaxMode}
	if maxAge <= 0 {
		c.MaxAge = -1 // Max-Age=0: the browser deletes it
	}
	http.SetCookie(w, c)
}

// clear deletes name with the attributes it was set with.
func (p firstParty) clear(w http.ResponseWriter, name string, httpOnly bool) {
	p.set(w, name, "", 0, httpOnly)
}

// setVisitor stores the visitor's id and its key.
func (p firstParty) setVisitor(w http.ResponseWriter, visitorID, key string) {
	p.set(w, cookieVisitor, visitorID, visitorMaxAge, false)
	p.set(w, cookieKey, key, visitorMaxAge, true)
}

// setToken stores a valid recognition token in _vt_uid until it expires.
func (p firstParty) setToken(w http.ResponseWriter, token string, expires time.Time, now time.Time) {
	p.set(w, cookieUser, token, min(expires.Sub(now), identity.MaxTokenTTL), true)
}
