package agent

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// cookieJar is a browser's cookie store as document.cookie sees it
// (RFC 6265 section 5, with the rules browsers add): cookies are keyed by
// name, domain and path; Domain widens a cookie to the domain's subdomains
// and must cover the page's host; Path limits it to a path prefix; Secure
// cookies are neither set nor read by http pages; Max-Age and Expires end
// them, Max-Age winning, and an ended cookie is deleted. Plain Go, so that
// the tracker's tests run the same natively and under js/wasm. It knows no
// public-suffix list: tests do not set cookies on "com".
type cookieJar struct {
	cookies map[jarKey]*jarCookie
	seq     int // creation order, for equal path lengths
}

type jarKey struct{ name, domain, path string }

type jarCookie struct {
	value    string
	hostOnly bool  // no Domain attribute: this host only
	secure   bool  // https pages only
	expires  int64 // Unix ms; 0 for a session cookie
	created  int
}

func newCookieJar() *cookieJar { return &cookieJar{cookies: map[jarKey]*jarCookie{}} }

// pageURL splits an absolute http(s) URL as the jar needs it.
func pageURL(u string) (secure bool, host, path string) {
	scheme, rest, _ := strings.Cut(u, "://")
	secure = strings.EqualFold(scheme, "https")
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	host = strings.ToLower(rest[:end])
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	path = rest[end:]
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	if path == "" {
		path = "/"
	}
	return secure, host, path
}

// domainMatch: host is domain or a subdomain of it (not for IP addresses).
func domainMatch(host, domain string) bool {
	if host == domain {
		return true
	}
	return strings.HasSuffix(host, "."+domain) && !isIP(host)
}

func isIP(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	for _, c := range host {
		if (c < '0' || c > '9') && c != '.' {
			return false
		}
	}
	return true
}

// pathMatch: the request path is the cookie path or below it.
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == cookiePath {
		return true
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}

// defaultPath is the directory of the page's path.
func defaultPath(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// set applies a document.cookie assignment made by the page at url, at
// now (Unix ms). It reports whether the browser accepted it.
func (j *cookieJar) set(url, assignment string, now int64) bool {
	secure, host, reqPath := pageURL(url)
	parts := strings.Split(assignment, ";")
	name, value, ok := strings.Cut(parts[0], "=")
	name, value = strings.TrimSpace(name), strings.TrimSpace(value)
	if !ok || name == "" {
		return false
	}
	c := &jarCookie{hostOnly: true}
	domain, path := host, ""
	var maxAge, expires *int64
	for _, a := range parts[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(a), "=")
		v = strings.TrimSpace(v)
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "max-age":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue // an invalid Max-Age is ignored
			}
			maxAge = &n
		case "expires":
			t, err := time.Parse(time.RFC1123, v)
			if err != nil {
				continue
			}
			ms := t.UnixMilli()
			expires = &ms
		case "domain":
			d := strings.ToLower(strings.TrimPrefix(v, "."))
			if d == "" {
				continue
			}
			if !domainMatch(host, d) {
				return false // a page may not set cookies for another site
			}
			domain, c.hostOnly = d, d == host && isIP(host)
		case "path":
			if strings.HasPrefix(v, "/") {
				path = v
			}
		case "secure":
			c.secure = true
		}
	}
	if c.secure && !secure {
		return false // http pages cannot set Secure cookies
	}
	if path == "" {
		path = defaultPath(reqPath)
	}
	switch {
	case maxAge != nil && *maxAge <= 0:
		c.expires = -1
	case maxAge != nil:
		c.expires = now + *maxAge*1000
	case expires != nil:
		c.expires = *expires
		if c.expires <= now {
			c.expires = -1
		}
	}
	if !c.hostOnly {
		domain = "." + domain // as browsers key them: apart from a host-only cookie
	}
	key := jarKey{name, domain, path}
	if old, ok := j.cookies[key]; ok {
		if old.secure && !secure {
			return false // an http page may not overwrite a Secure cookie
		}
		c.created = old.created
	} else {
		j.seq++
		c.created = j.seq
	}
	c.value = value
	if c.expires == -1 {
		delete(j.cookies, key) // setting an ended cookie deletes it
		return true
	}
	j.cookies[key] = c
	return true
}

// header returns document.cookie for the page at url at now: the live
// cookies it may see, longer paths first, then older first.
func (j *cookieJar) header(url string, now int64) string {
	secure, host, reqPath := pageURL(url)
	type entry struct {
		pair          string
		pathLen, made int
	}
	var es []entry
	for k, c := range j.cookies {
		if c.expires != 0 && c.expires <= now {
			continue
		}
		if c.hostOnly && host != k.domain || !c.hostOnly && !domainMatch(host, k.domain[1:]) {
			continue
		}
		if !pathMatch(reqPath, k.path) || c.secure && !secure {
			continue
		}
		es = append(es, entry{k.name + "=" + c.value, len(k.path), c.created})
	}
	sort.Slice(es, func(a, b int) bool {
		if es[a].pathLen != es[b].pathLen {
			return es[a].pathLen > es[b].pathLen
		}
		return es[a].made < es[b].made
	})
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.pair
	}
	return strings.Join(parts, "; ")
}

// live returns the cookies not yet ended at now, in any page's view, as
// "name@domain/path" keys.
func (j *cookieJar) live(now int64) []string {
	var out []string
	for k, c := range j.cookies {
		if c.expires == 0 || c.expires > now {
			out = append(out, k.name+"@"+k.domain+k.path)
		}
	}
	sort.Strings(out)
	return out
}
