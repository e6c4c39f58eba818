package webhook

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// Guard keeps webhook targets off the collector's own networks (SSRF):
// loopback, private, link-local, unspecified, multicast and the other
// special-purpose ranges, unless AllowPrivate.
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
			return nil, invalid("%s is a %s address; targets on private networks need --webhook-allow-private", host, why)
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
			return nil, invalid("%s resolves to %s, a %s address; targets on private networks need --webhook-allow-private", host, ip, why)
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
		return fmt.Errorf("%w: %s is a %s address", errBlocked, ap.Addr(), why)
	}
	return nil
}

// special lists the ranges that netip's predicates do not name but that
// are no public internet either.
var special = []struct {
	prefix netip.Prefix
	why    string
}{
	{netip.MustParsePrefix("0.0.0.0/8"), "this-network"},
	{netip.MustParsePrefix("100.64.0.0/10"), "carrier-grade NAT"},
	{netip.MustParsePrefix("192.0.0.0/24"), "IETF protocol"},
	{netip.MustParsePrefix("192.0.2.0/24"), "documentation"},
	{netip.MustParsePrefix("198.18.0.0/15"), "benchmarking"},
	{netip.MustParsePrefix("198.51.100.0/24"), "documentation"},
	{netip.MustParsePrefix("203.0.113.0/24"), "documentation"},
	{netip.MustParsePrefix("240.0.0.0/4"), "reserved"},
	{netip.MustParsePrefix("64:ff9b::/96"), "NAT64"},
	{netip.MustParsePrefix("64:ff9b:1::/48"), "NAT64"},
	{netip.MustParsePrefix("2001:db8::/32"), "documentation"},
	{netip.MustParsePrefix("2002::/16"), "6to4"},
	{netip.MustParsePrefix("2001::/32"), "Teredo"},
}

// blocked returns why ip may not be a webhook target, or "".
func blocked(ip netip.Addr) string {
	ip = ip.Unmap() // ::ffff:127.0.0.1 is 127.0.0.1
	switch {
	case !ip.IsValid():
		return "invalid"
	case ip.IsLoopback():
		return "loopback"
	case ip.IsPrivate():
		return "private"
	case ip.IsLinkLocalUnicast():
		return "link-local"
	case ip.IsUnspecified():
		return "unspecified"
	case ip.IsMulticast(), ip.IsLinkLocalMulticast(), ip.IsInterfaceLocalMulticast():
		return "multicast"
	case ip.Is4() && ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "broadcast"
	}
	for _, s := range special {
		if s.prefix.Contains(ip) {
			return s.why
		}
	}
	return ""
}

func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
