package live

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseTrustedProxies parses --trusted-proxies: CIDRs such as 10.0.0.0/8
// or ::1/128; a bare address stands for itself alone.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("trusted proxy %q: want a CIDR such as 10.0.0.0/8", s)
			}
			a = a.Unmap().WithZone("")
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Addr().Is4In6() {
			// ::ffff:10.0.0.0/104 means 10.0.0.0/8: addresses are unmapped
			// before they are compared.
			if p.Bits() < 96 {
				return nil, fmt.Errorf("trusted proxy %q: an IPv4-mapped prefix needs at least /96", s)
			}
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// clientIP is the visitor's address: the peer's, or, when the peer is a
// trusted proxy, the one X-Forwarded-For names (see forwardedFor).
func (h *Hub) clientIP(r *http.Request) string {
	return forwardedFor(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), h.cfg.TrustedProxies)
}

// forwardedFor returns the client address of a request from remoteAddr
// (host:port) carrying the X-Forwarded-For header lines xff. The header is
// believed only when the peer is inside a trusted prefix: then the client
// is the rightmost listed address that is not itself trusted, since each
// proxy appends the address it received the request from and everything
// left of the first untrusted one may be the client's own invention. If
// the header is absent, or an entry the walk reaches is not an address,
// the peer's address stands. If every listed address is trusted, the
// leftmost is the origin.
func forwardedFor(remoteAddr string, xff []string, trusted []netip.Prefix) string {
	host, viaProxy := trustedPeer(remoteAddr, trusted)
	if !viaProxy {
		return host
	}
	var hops []string
	for _, line := range xff {
		hops = append(hops, strings.Split(line, ",")...)
	}
	client := ""
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			return host
		}
		client = a.String()
		if !isTrusted(a, trusted) {
			return client
		}
	}
	if client == "" {
		return host
	}
	return client
}

// trustedPeer returns the peer's address of remoteAddr (host:port) and
// whether the peer is one of the trusted proxies, the only ones whose
// X-Forwarded-* headers are believed.
func trustedPeer(remoteAddr string, trusted []netip.Prefix) (host string, ok bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if len(trusted) == 0 {
		return host, false
	}
	a, err := netip.ParseAddr(host)
	return host, err == nil && isTrusted(a, trusted)
}

// addressed returns the host the browser addressed (lower case, without
// port or brackets) and whether it came over https: Host and the TLS
// state, or, when the peer is a trusted proxy, the first entries of
// X-Forwarded-Host and X-Forwarded-Proto where they are set. The
// first-party cookie decision compares it with the page's origin.
func (h *Hub) addressed(r *http.Request) (host string, secure bool) {
	host, secure = hostOnly(r.Host), r.TLS != nil
	if _, viaProxy := trustedPeer(r.RemoteAddr, h.cfg.TrustedProxies); !viaProxy {
		return host, secure
	}
	if fh := r.Header.Get("X-Forwarded-Host"); fh != "" {
		fh, _, _ = strings.Cut(fh, ",")
		host = hostOnly(strings.TrimSpace(fh))
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	if proto = strings.ToLower(strings.TrimSpace(proto)); proto != "" {
		secure = proto == "https"
	}
	return host, secure
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

// parseHop parses one X-Forwarded-For entry: an address, possibly with a
// port ("203.0.113.7:4711", "[2001:db8::1]:4711"), as some proxies write,
// or in brackets.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if len(s) > 2 && s[0] == '[' && s[len(s)-1] == ']' {
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return a.Unmap().WithZone(""), true
}

// addrGroup is the block of addresses that every per-address cap and
// rate limit counts as one client: an IPv4 address alone (an IPv4-mapped
// IPv6 address counts as its IPv4 address), and an IPv6 address together
// with the rest of its /64. A subscriber's line or a LAN gets at least a
// whole /64, and its hosts choose addresses in it freely (temporary
// privacy addresses change by the day), so counted one address at a time
// one machine could multiply every cap by as many addresses as it cares
// to use. A wider block (/56, /48) would also be one customer at many
// providers, but at others it would lump neighbours together. An invalid
// address (a peer that is not TCP) gives the zero Prefix: all such peers
// count as one client.
func addrGroup(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64) // cannot fail: 64 bits of an IPv6 address
	return p
}

// ipGroup is addrGroup of a textual address, as clientIP returns it. It
// allocates nothing, so the hot paths may call it per frame.
func ipGroup(ip string) netip.Prefix {
	a, _ := netip.ParseAddr(ip) // the zero Addr when it does not parse
	return addrGroup(a)
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	a = a.Unmap().WithZone("")
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
