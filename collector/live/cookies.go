package live

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/net/publicsuffix"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// First-party cookies (docs/identity.md#cookies-kept-by-the-collector).
// When the page and the collector are the same site, the collector keeps
// the visitor's cookies itself with Set-Cookie: _vt_uid is then HttpOnly,
// so that no script can read the recognition token, and Safari keeps
// server-set cookies longer than the 7 days it grants script-set ones.
// Across sites the tracker keeps them in document.cookie as before.

// Cookie names, as the tracker's (docs/tracker.md#cookies).
const (
	cookieVisitor = "_vt_vid"
	cookieUser    = "_vt_uid"
	cookieKey     = "_vt_key" // the browser key (docs/security.md#browser-key)
)

const (
	visitorMaxAge = 2 * 365 * 24 * time.Hour
	// maxCookieLen bounds a cookie value the collector reads: a real
	// recognition token is under 300 bytes. A longer one is ignored.
	maxCookieLen = 2048
	// maxCookiesBody bounds the body of POST /v1/cookies and /v1/handoff.
	maxCookiesBody = 8 << 10
)

// Links is what the browser endpoints of this file need of the store.
type Links interface {
	identity.Redeemer
	// IssuedTo reports whether the collector linked the identity to one
	// of the visitor's visits itself (so it may have issued that visitor
	// a token for it).
	IssuedTo(ctx context.Context, visitorID, identityID string, verified bool) (bool, error)
	// IdentityUserID returns the identity's userId, "" when not stored.
	IdentityUserID(ctx context.Context, identityID string) (string, error)
	// StoredVisitorKey returns the hash of the visitor's browser key.
	StoredVisitorKey(ctx context.Context, visitorID string) (hash string, found bool, err error)
	// RecognitionUsable reports whether a valid token may still
	// recognize: its identity is stored and it was not revoked.
	RecognitionUsable(ctx context.Context, identityID, tokenID string) (bool, error)
	// RevokeRecognitionToken makes a recognition token recognize
	// nobody, as SignOut does.
	RevokeRecognitionToken(ctx context.Context, tokenID string, expiresAt time.Time) error
}

// firstParty is how the collector answers one request about cookies.
type firstParty struct {
	on     bool   // same site: the collector reads and writes the cookies
	secure bool   // https: cookies get Secure
	domain string // a validated cookieDomain, "" for host-only cookies
}

// firstParty decides whether the request comes from a page of the
// collector's own site. It must carry an Origin that --allowed-origins
// lists by name ("*" is for trying things out and never enables it), and
// the Origin's host and the host the browser addressed (Host, or
// X-Forwarded-Host from a trusted proxy) must share their registrable
// domain; an IP address or localhost is a site of its own. cookieDomain,
// the tracker's setting, becomes the cookies' Domain when it is the
// request host or a parent of it below the public suffix.
func (h *Hub) firstParty(r *http.Request, cookieDomain string) firstParty {
	o := r.Header.Get("Origin")
	if o == "" || h.cfg.Signer == nil || h.cfg.Links == nil || !h.origins[strings.ToLower(strings.TrimRight(o, "/"))] {
		return firstParty{}
	}
	originHost := o
	if i := strings.Index(o, "://"); i >= 0 {
		originHost = o[i+3:]
	}
	originHost = hostOnly(originHost)
	host := hostOnly(r.Host)
	proto := ""
	if h.fromTrustedProxy(r) {
		if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
			host = hostOnly(strings.TrimSpace(strings.Split(fh, ",")[0]))
		}
		proto = strings.ToLower(strings.TrimSpace(strings.Split(r.Header.Get("X-Forwarded-Proto"), ",")[0]))
	}
	if host == "" || !sameSite(originHost, host) {
		return firstParty{}
	}
	secure := r.TLS != nil
	if proto != "" {
		secure = proto == "https"
	}
	return firstParty{on: true, secure: secure, domain: cookieDomainFor(cookieDomain, host)}
}

// fromTrustedProxy reports whether the peer is one of --trusted-proxies.
func (h *Hub) fromTrustedProxy(r *http.Request) bool {
	if len(h.cfg.TrustedProxies) == 0 {
		return false
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	return err == nil && isTrusted(a, h.cfg.TrustedProxies)
}

// hostOnly lower-cases a host[:port] and drops the port and IPv6
// brackets.
func hostOnly(hp string) string {
	hp = strings.ToLower(hp)
	if h, _, err := net.SplitHostPort(hp); err == nil {
		return strings.Trim(h, "[]")
	}
	return strings.Trim(hp, "[]")
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

// apply makes the cookies speak for the browser: the collector's _vt_vid
// names the visitor (the tracker cannot read it from another host of the
// site), and _vt_uid is presented when the request carries no token.
func (j jar) apply(c *ingest.Client) {
	if j.visitorID != "" {
		c.VisitorID, c.VisitorKey = j.visitorID, j.key
	} else if c.VisitorKey == "" {
		c.VisitorKey = j.key
	}
	if (c.Recognition == nil || *c.Recognition == "") && j.token != "" {
		t := j.token
		c.Recognition = &t
	}
}

// setVisit writes the cookies of a visit the collector settled: _vt_vid
// and the HttpOnly _vt_key, and _vt_uid with the token the browser should keep, or its deletion
// when it has none and the request carried one.
func (h *Hub) setVisit(w http.ResponseWriter, p firstParty, j jar, v ingest.Visit) {
	p.set(w, cookieVisitor, v.VisitorID, visitorMaxAge, false)
	if v.VisitorKey != "" {
		p.set(w, cookieKey, v.VisitorKey, visitorMaxAge, true)
	}
	if v.Recognition != nil {
		if c, ok := h.verifyToken(*v.Recognition); ok {
			p.setToken(w, *v.Recognition, c.ExpiresAt, h.cfg.Now())
			return
		}
	}
	if j.token != "" || j.badToken {
		p.clear(w, cookieUser, true)
	}
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

// jar is what the collector reads of its cookies on a request.
type jar struct {
	visitorID string // a ULID, or ""
	key       string // the browser key, or ""
	token     string // the recognition token as sent, or ""
	// badToken: _vt_uid was present but oversize or malformed.
	badToken bool
}

// readJar reads the collector's cookies; oversize and malformed values
// are ignored (a malformed _vt_uid is reported so that it is cleared).
func readJar(r *http.Request) jar {
	var j jar
	if c, err := r.Cookie(cookieVisitor); err == nil && protocol.IsULID(c.Value) {
		j.visitorID = c.Value
	}
	if c, err := r.Cookie(cookieKey); err == nil && len(c.Value) <= 64 && printable(c.Value) {
		j.key = c.Value
	}
	if c, err := r.Cookie(cookieUser); err == nil && c.Value != "" {
		if len(c.Value) <= maxCookieLen && printable(c.Value) {
			j.token = c.Value
		} else {
			j.badToken = true
		}
	}
	return j
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// verifyToken checks a recognition token's signature and expiry.
func (h *Hub) verifyToken(tok string) (identity.Claims, bool) {
	if h.cfg.Signer == nil || tok == "" {
		return identity.Claims{}, false
	}
	c, err := h.cfg.Signer.Verify(tok)
	return c, err == nil
}

// handshakeCookies runs on the WebSocket handshake, whose answer is the
// only one of the conversation that can carry Set-Cookie: it clears a
// _vt_uid that is malformed, forged or expired, and slides _vt_vid.
func (h *Hub) handshakeCookies(w http.ResponseWriter, p firstParty, j *jar) {
	if j.badToken || j.token != "" {
		if _, ok := h.verifyToken(j.token); !ok {
			p.clear(w, cookieUser, true)
			j.token, j.badToken = "", false
		}
	}
	if j.visitorID != "" {
		p.set(w, cookieVisitor, j.visitorID, visitorMaxAge, false)
		if j.key != "" {
			p.set(w, cookieKey, j.key, visitorMaxAge, true)
		}
	}
}

// ServeCookies serves POST /v1/cookies: after an identity change over the
// WebSocket (whose frames cannot set cookies), the tracker posts the
// visitorId, its key and the token it was given, and the collector stores
// them in its cookies, or clears _vt_uid for a null token. The request
// must hold the visitor's key (in the body or the _vt_key cookie), and
// the token must be one the collector issued for this visitor: signed,
// unexpired, not revoked, of an identity it linked to one of that
// visitor's visits (verified, for a verified token). {"forget": true}
// clears them all (consent refused). So the endpoint
// cannot plant another person's token in a browser, and it never answers
// with a token, so it cannot be used to read one either.
func (h *Hub) ServeCookies(w http.ResponseWriter, r *http.Request) {
	var req protocol.CookiesRequest
	p, ok := h.browserPost(w, r, func(b []byte) (string, error) {
		err := json.Unmarshal(b, &req)
		return req.CookieDomain, err
	})
	if !ok {
		return
	}
	if req.Forget {
		h.forget(w, r, p, req.Recognition)
		return
	}
	if !p.on {
		writeProblem(w, http.StatusForbidden, "not_first_party",
			"the collector keeps cookies only for pages of its own site; this page keeps its own")
		return
	}
	ctx := r.Context()
	if !protocol.IsULID(req.VisitorID) {
		writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "visitorId must be a ULID")
		return
	}
	key := req.VisitorKey
	if key == "" {
		key = readJar(r).key
	}
	hash, _, err := h.cfg.Links.StoredVisitorKey(ctx, req.VisitorID)
	if err != nil {
		h.internalError(w, "cookies", err)
		return
	}
	if !identity.VisitorKeyMatches(key, hash) {
		writeProblem(w, http.StatusForbidden, "visitor_unproven",
			"the request does not hold this visitor's key; nothing was stored")
		return
	}
	if req.Recognition == nil || *req.Recognition == "" {
		p.clear(w, cookieUser, true)
		p.setVisitor(w, req.VisitorID, key)
		writeCookiesAnswer(w)
		return
	}
	claims, valid := h.verifyToken(*req.Recognition)
	if valid {
		valid, err = h.cfg.Links.RecognitionUsable(ctx, claims.IdentityID, claims.ID)
	}
	if valid && err == nil {
		valid, err = h.cfg.Links.IssuedTo(ctx, req.VisitorID, claims.IdentityID, claims.Verified)
	}
	if err != nil {
		h.internalError(w, "cookies", err)
		return
	}
	if !valid {
		p.clear(w, cookieUser, true)
		writeProblem(w, http.StatusForbidden, "recognition_refused",
			"the token is not one the collector issued for this visitor; _vt_uid was cleared")
		return
	}
	p.setVisitor(w, req.VisitorID, key)
	p.setToken(w, *req.Recognition, claims.ExpiresAt, h.cfg.Now())
	writeCookiesAnswer(w)
}

// forget answers {"forget": true}, the visitor's withdrawal of consent:
// the recognition token the browser holds (the one it sends, or the
// collector's cookie) is revoked as SignOut revokes it, so that no copy of
// it recognizes anyone, and in first-party mode the collector's cookies
// are cleared. Revoking the token one holds, or clearing one's own cookies,
// needs no other proof. A page that keeps its own cookies (script mode)
// sends its token: only the revocation applies there.
func (h *Hub) forget(w http.ResponseWriter, r *http.Request, p firstParty, presented *string) {
	toks := make([]string, 0, 2)
	if presented != nil && *presented != "" {
		toks = append(toks, *presented)
	}
	if p.on {
		if j := readJar(r); j.token != "" {
			toks = append(toks, j.token)
		}
	}
	for _, tok := range toks {
		c, ok := h.verifyToken(tok)
		if !ok {
			continue // a forged or expired token recognizes nobody already
		}
		if err := h.cfg.Links.RevokeRecognitionToken(r.Context(), c.ID, c.ExpiresAt); err != nil {
			h.internalError(w, "forget: revoke the recognition token", err)
			return
		}
	}
	if p.on {
		p.clear(w, cookieUser, true)
		p.clear(w, cookieKey, true)
		p.clear(w, cookieVisitor, false)
		writeCookiesAnswer(w)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func writeCookiesAnswer(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(`{"cookies":"server"}` + "\n"))
}

// browserPost does what the small browser POST endpoints share: origin,
// CORS with credentials, the method, the rate limit and a bounded JSON
// body, which decode reads and returns the cookieDomain of. ok is false
// when an answer was written.
func (h *Hub) browserPost(w http.ResponseWriter, r *http.Request, decode func([]byte) (string, error)) (p firstParty, ok bool) {
	if !h.originAllowed(r) {
		writeProblem(w, http.StatusForbidden, "origin_not_allowed", "this origin may not use the collector; see --allowed-origins")
		return p, false
	}
	h.cors(w, r)
	if r.Method == http.MethodOptions {
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Headers", "Content-Type")
		w.Header().Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
		return p, false
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		writeProblem(w, http.StatusMethodNotAllowed, "method_not_allowed", "use POST")
		return p, false
	}
	if ok, _ := h.limiter.take(h.clientIP(r), 1, time.Now()); !ok {
		writeProblem(w, http.StatusTooManyRequests, "rate_limited", h.rateLimitMessage())
		return p, false
	}
	body, err := readBodyMax(r, maxCookiesBody)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "the body must be a JSON object of at most 8 KiB")
		return p, false
	}
	domain, err := decode(body)
	if err != nil {
		writeProblem(w, http.StatusBadRequest, protocol.CodeInvalidMessage, "the body must be a JSON object: "+err.Error())
		return p, false
	}
	return h.firstParty(r, domain), true
}

// readBodyMax reads at most n bytes of the body.
func readBodyMax(r *http.Request, n int64) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(nil, r.Body, n))
}

// cors answers an allowed Origin (never with "*"), with credentials, so
// that the tracker may send its requests with the collector's cookies.
func (h *Hub) cors(w http.ResponseWriter, r *http.Request) {
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Add("Vary", "Origin")
	}
}

func (h *Hub) internalError(w http.ResponseWriter, what string, err error) {
	h.cfg.Logger.Error(what, "err", err)
	if errors.Is(err, context.Canceled) {
		return
	}
	writeProblem(w, http.StatusInternalServerError, protocol.CodeInternal, "internal error; try again")
}
