package live

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The collector's cookie jar (docs/identity.md#cookies-kept-by-the-collector):
// what it reads of its cookies on a request, what it writes after a visit
// is settled, and POST /v1/cookies, where the tracker hands over what a
// WebSocket answer could not set. Whether a request gets them at all, and
// with which attributes, is firstparty.go's decision.

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
)

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
