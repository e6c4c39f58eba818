package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// Guard keeps webhook targets off the collector's own networks (SSRF):
// every block of IANA's special-purpose address registries, multicast and
// IPv6 outside the global unicast space (guard_ranges.go), unless
// AllowPrivate. CheckURL and Control apply the same table, so an address
// refused at registration is refused at dial too.
type Guard struct {
	AllowPrivate bool
	// Resolver looks hosts up at registration; nil is net.DefaultResolver.
	Resolver *net.Resolver
}

// maxURLLen bounds a webhook URL.
const maxURLLen = 2048

// CheckURL returns raw parsed if it may be a webhook target: an absolute
// http or https URL without credentials, whose host resolves only to
// public addresses. Errors are EINVALID with the reason.
func (g Guard) CheckURL(ctx context.Context, raw string) (*url.URL, error) {
	invalid := func(format string, args ...any) error {
		return collector.Errorf(collector.EINVALID, "url: "+format, args...)
	}
	if len(raw) > maxURLLen {
		return nil, invalid("longer than %d bytes", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, invalid("%q is not a URL", clip(raw))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, invalid("scheme must be http or https, not %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, invalid("%q has no host", clip(raw))
	}
	if u.User != nil {
		return nil, invalid("credentials in the URL are not allowed: the webhook signature authenticates the collector")
	}
	if u.Fragment != "" {
		return nil, invalid("a fragment (#…) is never sent: leave it out")
	}
	if g.AllowPrivate {
		return u, nil
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		if why := blocked(ip); why != "" {
			return nil, invalid("%s is %s; targets on private networks need --webhook-allow-private", host, why)
		}
		return u, nil
	}
	r := g.Resolver
	if r == nil {
		r = net.DefaultResolver
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(addrs) == 0 {
		return nil, invalid("cannot resolve %s: %v", host, err)
	}
	for _, ip := range addrs {
		if why := blocked(ip); why != "" {
			return nil, invalid("%s resolves to %s, %s; targets on private networks need --webhook-allow-private", host, ip, why)
		}
	}
	return u, nil
}

// errBlocked is the dial-time refusal.
var errBlocked = errors.New("webhook target refused")

// Control is a net.Dialer Control function: it refuses a connection to a
// blocked address, whatever name led there (DNS rebinding, a redirect).
func (g Guard) Control(network, address string, _ syscall.RawConn) error {
	if g.AllowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot check address %q", errBlocked, address)
	}
	if why := blocked(ap.Addr()); why != "" {
		return fmt.Errorf("%w: %s is %s", errBlocked, ap.Addr(), why)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}

// Transport is an HTTP transport whose every connection passes the guard
// at dial (the address actually dialled, which also covers DNS
// rebinding), and that uses no proxy: a proxy would be the address
// dialled, hiding the target's. timeout bounds the dial, the TLS handshake
// and the answer's headers; perHost bounds the idle connections kept.
func (g Guard) Transport(timeout time.Duration, perHost int) *http.Transport {
	dialer := &net.Dialer{Timeout: timeout, Control: g.Control}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   perHost,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// Client is an HTTP client on rt (a guarded Transport) that follows no
// redirect: a target must answer itself, or a redirect could lead anywhere.
func Client(rt http.RoundTripper, timeout time.Duration) *http.Client {
	return &http.Client{Transport: rt, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}
