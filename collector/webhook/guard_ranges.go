package webhook

import (
	"fmt"
	"net/netip"
)

// A special is one block of addresses that is no webhook target: a row of
// IANA's IPv4 or IPv6 Special-Purpose Address Registry
// (https://www.iana.org/assignments/iana-ipv4-special-registry,
// https://www.iana.org/assignments/iana-ipv6-special-registry), or of the
// multicast and IPv6 address-space registries where those name what the
// special-purpose ones leave out.
type special struct {
	prefix netip.Prefix
	// name is the block's name in its registry; kind is the word a
	// refusal uses ("loopback", "private", …).
	name, kind string
	// v4At, when not zero, is the byte offset of an IPv4 address that the
	// block's addresses embed (::a.b.c.d, 64:ff9b::a.b.c.d, 2002:aabb:ccdd::).
	v4At int
	// viaV4 says the block delivers to its embedded IPv4 address (a NAT64
	// translator, a 6to4 relay), so that address decides; otherwise the
	// block is refused and the embedded address only names why.
	viaV4 bool
}

func row(prefix, name, kind string) special {
	return special{prefix: netip.MustParsePrefix(prefix), name: name, kind: kind}
}

// specialV4 is every entry of the IPv4 Special-Purpose Address Registry
// (25; 192.0.0.170/32 and 192.0.0.171/32 are one), plus multicast. An
// entry the registry marks globally reachable is refused too: those are
// anycast addresses of PCP, TURN, AS112, AMT and the 6to4/6a44 relays,
// whose nearest instance is often the site's own router, and none of them
// is an HTTP receiver.
var specialV4 = []special{
	row("0.0.0.0/8", `"This network"`, "this-network"),
	row("0.0.0.0/32", `"This host on this network"`, "unspecified"),
	row("10.0.0.0/8", "Private-Use", "private"),
	row("100.64.0.0/10", "Shared Address Space", "carrier-grade NAT"),
	row("127.0.0.0/8", "Loopback", "loopback"),
	row("169.254.0.0/16", "Link Local", "link-local"),
	row("172.16.0.0/12", "Private-Use", "private"),
	row("192.0.0.0/24", "IETF Protocol Assignments", "IETF protocol"),
	row("192.0.0.0/29", "IPv4 Service Continuity Prefix", "IETF protocol"),
	row("192.0.0.8/32", "IPv4 dummy address", "IETF protocol"),
	row("192.0.0.9/32", "Port Control Protocol Anycast", "anycast service"),
	row("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", "anycast service"),
	row("192.0.0.170/32", "NAT64/DNS64 Discovery", "IETF protocol"),
	row("192.0.0.171/32", "NAT64/DNS64 Discovery", "IETF protocol"),
	row("192.0.2.0/24", "Documentation (TEST-NET-1)", "documentation"),
	row("192.31.196.0/24", "AS112-v4", "anycast service"),
	row("192.52.193.0/24", "AMT", "anycast service"),
	row("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "anycast service"),
	row("192.88.99.2/32", "6a44-relay anycast address", "anycast service"),
	row("192.168.0.0/16", "Private-Use", "private"),
	row("192.175.48.0/24", "Direct Delegation AS112 Service", "anycast service"),
	row("198.18.0.0/15", "Benchmarking", "benchmarking"),
	row("198.51.100.0/24", "Documentation (TEST-NET-2)", "documentation"),
	row("203.0.113.0/24", "Documentation (TEST-NET-3)", "documentation"),
	row("240.0.0.0/4", "Reserved", "reserved"),
	row("255.255.255.255/32", "Limited Broadcast", "broadcast"),
	// IANA IPv4 Multicast Address Space Registry.
	row("224.0.0.0/4", "Multicast", "multicast"),
}

// specialV6 is every entry of the IPv6 Special-Purpose Address Registry
// (25, the latest 100:0:0:1::/64 of RFC 9780), refused whole as in
// specialV4 (2001::/23 covers its anycast rows), plus three blocks of the
// IPv6 Address Space registry that are not in it. Beyond them, blocked
// refuses all that lies outside 2000::/3, which is all the global unicast
// space IANA has.
var specialV6 = []special{
	row("::1/128", "Loopback Address", "loopback"),
	row("::/128", "Unspecified Address", "unspecified"),
	// blocked unmaps these before it reads the table; the row keeps the
	// table whole.
	{prefix: netip.MustParsePrefix("::ffff:0:0/96"), name: "IPv4-mapped Address", kind: "IPv4-mapped", v4At: 12, viaV4: true},
	// A translator sends 64:ff9b::a.b.c.d to a.b.c.d and nowhere else, so
	// the IPv4 address decides: an IPv6-only host behind DNS64 reaches
	// every IPv4 receiver this way.
	{prefix: netip.MustParsePrefix("64:ff9b::/96"), name: "IPv4-IPv6 Translat.", kind: "NAT64", v4At: 12, viaV4: true},
	// The local-use prefix is the operator's own translator, with any of
	// the address layouts RFC 6052 allows: refused.
	row("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "local-use NAT64"),
	row("100::/64", "Discard-Only Address Block", "discard-only"),
	row("100:0:0:1::/64", "Dummy IPv6 Prefix", "dummy"),
	row("2001::/23", "IETF Protocol Assignments", "IETF protocol"),
	row("2001::/32", "TEREDO", "Teredo"),
	row("2001:1::1/128", "Port Control Protocol Anycast", "anycast service"),
	row("2001:1::2/128", "Traversal Using Relays around NAT Anycast", "anycast service"),
	row("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast Address", "anycast service"),
	row("2001:2::/48", "Benchmarking", "benchmarking"),
	row("2001:3::/32", "AMT", "anycast service"),
	row("2001:4:112::/48", "AS112-v6", "anycast service"),
	row("2001:10::/28", "Deprecated (previously ORCHID)", "ORCHID"),
	row("2001:20::/28", "ORCHIDv2", "ORCHID"),
	row("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", "DET"),
	row("2001:db8::/32", "Documentation", "documentation"),
	// A 6to4 relay sends 2002:aabb:ccdd:: to a.b.c.d: that decides.
	{prefix: netip.MustParsePrefix("2002::/16"), name: "6to4", kind: "6to4", v4At: 2, viaV4: true},
	row("2620:4f:8000::/48", "Direct Delegation AS112 Service", "anycast service"),
	row("3fff::/20", "Documentation", "documentation"),
	row("5f00::/16", "Segment Routing (SRv6) SIDs", "segment-routing SID"),
	row("fc00::/7", "Unique-Local", "private"),
	row("fe80::/10", "Link-Local Unicast", "link-local"),
	// IANA IPv6 Address Space: deprecated site-local (RFC 3879), which a
	// host may still route inside its site, and multicast.
	row("fec0::/10", "Site-Local (deprecated)", "site-local"),
	row("ff00::/8", "Multicast", "multicast"),
	// RFC 4291 deprecated ::a.b.c.d; a kernel with a sit tunnel still
	// delivers it to a.b.c.d. No receiver needs it: refused.
	{prefix: netip.MustParsePrefix("::/96"), name: "IPv4-compatible (deprecated)", kind: "IPv4-compatible", v4At: 12},
}

// globalUnicast is the only IPv6 space IANA allocates for the internet.
var globalUnicast = netip.MustParsePrefix("2000::/3")

// blocked returns why ip may not be a webhook target ("a loopback address
// (127.0.0.0/8, Loopback)"), or "" when it may.
func blocked(ip netip.Addr) string {
	if !ip.IsValid() {
		return "an invalid address"
	}
	// A zone names the interface, not the address (and Prefix.Contains
	// never matches a zoned address); ::ffff:127.0.0.1 is 127.0.0.1.
	ip = ip.WithZone("").Unmap()
	table := specialV6
	if ip.Is4() {
		table = specialV4
	}
	s, ok := mostSpecific(table, ip)
	switch {
	case ok && s.v4At > 0:
		b := ip.As16()
		inner := netip.AddrFrom4([4]byte(b[s.v4At : s.v4At+4]))
		why := blocked(inner)
		if s.viaV4 && why == "" {
			return ""
		}
		if why == "" {
			return s.String()
		}
		return fmt.Sprintf("%s, wrapping %s", s, why)
	case ok:
		return s.String()
	case ip.Is6() && !globalUnicast.Contains(ip):
		return "a reserved address (outside 2000::/3, the IPv6 global unicast space)"
	}
	return ""
}

// mostSpecific returns the longest prefix in table that holds ip: the
// registries list blocks inside blocks (192.0.0.9/32 in 192.0.0.0/24).
func mostSpecific(table []special, ip netip.Addr) (special, bool) {
	best := -1
	for i, s := range table {
		if s.prefix.Contains(ip) && (best < 0 || s.prefix.Bits() > table[best].prefix.Bits()) {
			best = i
		}
	}
	if best < 0 {
		return special{}, false
	}
	return table[best], true
}

func (s special) String() string {
	article := "a"
	switch s.kind[0] {
	case 'a', 'e', 'i', 'o', 'u', 'I', 'O':
		article = "an"
	}
	return fmt.Sprintf("%s %s address (%s, %s)", article, s.kind, s.prefix, s.name)
}
