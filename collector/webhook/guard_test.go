package webhook

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// refusedSamples has an address of every row of specialV4 and specialV6,
// with the block the refusal must name: the IANA special-purpose
// registries entire, and the blocks they leave out.
var refusedSamples = map[string]string{
	// IPv4 Special-Purpose Address Registry.
	"0.1.2.3":         "0.0.0.0/8",
	"0.0.0.0":         "0.0.0.0/32",
	"10.1.2.3":        "10.0.0.0/8",
	"100.64.0.1":      "100.64.0.0/10",
	"127.9.9.9":       "127.0.0.0/8",
	"169.254.169.254": "169.254.0.0/16",
	"172.31.255.254":  "172.16.0.0/12",
	"192.0.0.200":     "192.0.0.0/24",
	"192.0.0.1":       "192.0.0.0/29",
	"192.0.0.8":       "192.0.0.8/32",
	"192.0.0.9":       "192.0.0.9/32",
	"192.0.0.10":      "192.0.0.10/32",
	"192.0.0.170":     "192.0.0.170/32",
	"192.0.0.171":     "192.0.0.171/32",
	"192.0.2.1":       "192.0.2.0/24",
	"192.31.196.1":    "192.31.196.0/24",
	"192.52.193.1":    "192.52.193.0/24",
	"192.88.99.1":     "192.88.99.0/24",
	"192.88.99.2":     "192.88.99.2/32",
	"192.168.1.1":     "192.168.0.0/16",
	"192.175.48.6":    "192.175.48.0/24",
	"198.19.255.1":    "198.18.0.0/15",
	"198.51.100.7":    "198.51.100.0/24",
	"203.0.113.9":     "203.0.113.0/24",
	"240.0.0.1":       "240.0.0.0/4",
	"255.255.255.255": "255.255.255.255/32",
	"224.0.0.1":       "224.0.0.0/4",
	"239.255.255.250": "224.0.0.0/4",
	// IPv6 Special-Purpose Address Registry.
	"::1":                 "::1/128",
	"::":                  "::/128",
	"::ffff:127.0.0.1":    "127.0.0.0/8",  // unmapped first
	"64:ff9b::7f00:1":     "64:ff9b::/96", // NAT64 to loopback
	"64:ff9b::a9fe:a9fe":  "169.254.0.0/16",
	"64:ff9b:1::a00:1":    "64:ff9b:1::/48",
	"64:ff9b:1:ffff::808": "64:ff9b:1::/48",
	"100::1":              "100::/64",
	"100:0:0:1::1":        "100:0:0:1::/64",
	"2001:1ff::1":         "2001::/23",
	"2001:0:4136:e378::1": "2001::/32",
	"2001:1::1":           "2001:1::1/128",
	"2001:1::2":           "2001:1::2/128",
	"2001:1::3":           "2001:1::3/128",
	"2001:2::1":           "2001:2::/48",
	"2001:3::1":           "2001:3::/32",
	"2001:4:112::1":       "2001:4:112::/48",
	"2001:10::1":          "2001:10::/28",
	"2001:20::1":          "2001:20::/28",
	"2001:30::1":          "2001:30::/28",
	"2001:db8::1":         "2001:db8::/32",
	"2002:7f00:1::1":      "2002::/16", // 6to4 to loopback
	"2002:c0a8:101::1":    "192.168.0.0/16",
	"2620:4f:8000::1":     "2620:4f:8000::/48",
	"3fff:fff::1":         "3fff::/20",
	"5f00::1":             "5f00::/16",
	"fd00::1":             "fc00::/7",
	"fc00::1":             "fc00::/7",
	"fe80::1":             "fe80::/10",
	"fe80::1%eth0":        "fe80::/10",
	// IPv6 Address Space: what the special-purpose registry leaves out.
	"fec0::1":     "fec0::/10",
	"ff02::1":     "ff00::/8",
	"::127.0.0.1": "::/96",
	"::8.8.8.8":   "::/96",
	"::a00:1":     "::/96",
}

// reservedSamples lie outside 2000::/3 in no named block.
var reservedSamples = []string{"1::1", "4000::1", "e000::1", "fe00::1", "::ffff:0:7f00:1", "64:ff9a::1"}

// publicSamples are internet addresses, also in the forms that embed one.
var publicSamples = []string{
	"8.8.8.8", "1.1.1.1", "93.184.216.34", "192.0.1.1", "192.88.98.255", "198.20.0.1", "223.255.255.254",
	"2606:4700::1111", "2001:4860:4860::8888", "2606:2800:220:1:248:1893:25c8:1946", "2001:200::1", "3fff:1000::1",
	"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
}

func TestBlocked(t *testing.T) {
	for addr, block := range refusedSamples {
		got := blocked(netip.MustParseAddr(addr))
		if !strings.Contains(got, "("+block+",") {
			t.Errorf("blocked(%s) = %q, want the refusal of %s", addr, got, block)
		}
	}
	for _, addr := range reservedSamples {
		if got := blocked(netip.MustParseAddr(addr)); !strings.Contains(got, "outside 2000::/3") {
			t.Errorf("blocked(%s) = %q, want outside 2000::/3", addr, got)
		}
	}
	for _, addr := range publicSamples {
		if got := blocked(netip.MustParseAddr(addr)); got != "" {
			t.Errorf("blocked(%s) = %q, want it public", addr, got)
		}
	}
	for addr, want := range map[string]string{
		"127.0.0.1":       "a loopback address (127.0.0.0/8, Loopback)",
		"::127.0.0.1":     "an IPv4-compatible address (::/96, IPv4-compatible (deprecated)), wrapping a loopback address (127.0.0.0/8, Loopback)",
		"64:ff9b::a00:1":  "a NAT64 address (64:ff9b::/96, IPv4-IPv6 Translat.), wrapping a private address (10.0.0.0/8, Private-Use)",
		"fec0::1":         "a site-local address (fec0::/10, Site-Local (deprecated))",
		"192.0.0.9":       "an anycast service address (192.0.0.9/32, Port Control Protocol Anycast)",
		"0.0.0.0":         `an unspecified address (0.0.0.0/32, "This host on this network")`,
		"100.64.0.1":      "a carrier-grade NAT address (100.64.0.0/10, Shared Address Space)",
		"255.255.255.255": "a broadcast address (255.255.255.255/32, Limited Broadcast)",
	} {
		if got := blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blocked(%s) = %q, want %q", addr, got, want)
		}
	}
	if got := blocked(netip.Addr{}); got == "" {
		t.Error("the zero Addr is not refused")
	}
}

// TestEveryRowHasASample keeps refusedSamples whole: a row added to the
// tables without a sample, or a sample that no longer lands in the row it
// names, fails here.
func TestEveryRowHasASample(t *testing.T) {
	named := map[netip.Prefix]bool{}
	mapped := netip.MustParsePrefix("::ffff:0:0/96")
	for addr, block := range refusedSamples {
		named[netip.MustParsePrefix(block)] = true
		ip := netip.MustParseAddr(addr).WithZone("").Unmap()
		table := specialV6
		if ip.Is4() {
			table = specialV4
		}
		if s, ok := mostSpecific(table, ip); ok && s.prefix.String() != block && !s.viaV4 {
			t.Errorf("%s lands in %s, not in %s", addr, s.prefix, block)
		}
	}
	for _, s := range append(append([]special{}, specialV4...), specialV6...) {
		if !named[s.prefix] && s.prefix != mapped {
			t.Errorf("no sample of %s (%s)", s.prefix, s.name)
		}
		if s.prefix != s.prefix.Masked() {
			t.Errorf("%s is not a masked prefix", s.prefix)
		}
	}
	// ::ffff:0:0/96 has no sample of its own: blocked unmaps it first and
	// the IPv4 table judges it (see ::ffff:127.0.0.1 above).
	if s, ok := mostSpecific(specialV6, netip.MustParseAddr("::ffff:7f00:1")); !ok || s.prefix != mapped {
		t.Errorf("::ffff:7f00:1 in the IPv6 table: %v %v", s, ok)
	}
}

func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	g := Guard{}
	for raw, want := range map[string]string{
		"ftp://example.com/hook":                             "scheme must be http or https",
		"javascript:alert(1)":                                "scheme must be http or https",
		"/relative":                                          "scheme must be http or https",
		"http://":                                            "has no host",
		"https://user:pw@93.184.216.34/hook":                 "credentials",
		"http://127.0.0.1:8080/hook":                         "loopback",
		"http://[::1]/hook":                                  "loopback",
		"http://[::ffff:127.0.0.1]/hook":                     "loopback",
		"http://10.0.0.5/hook":                               "private",
		"http://169.254.169.254/latest":                      "link-local",
		"http://0.0.0.0/":                                    "unspecified",
		"http://localhost:9/hook":                            "loopback",
		"https://93.184.216.34/x#frag":                       "fragment",
		"https://" + strings.Repeat("a", 3000) + ".example/": "longer than",
	} {
		_, err := g.CheckURL(ctx, raw)
		if collector.ErrorCode(err) != collector.EINVALID || !strings.Contains(collector.ErrorMessage(err), want) {
			t.Errorf("CheckURL(%.60q) = %v, want EINVALID with %q", raw, err, want)
		}
	}
	for _, raw := range []string{"https://93.184.216.34/hook", "http://[2606:2800:220:1:248:1893:25c8:1946]:8443/x?a=1"} {
		if _, err := g.CheckURL(ctx, raw); err != nil {
			t.Errorf("CheckURL(%q): %v", raw, err)
		}
	}
	// Registration refuses every special-purpose block and lets the
	// internet through, in every spelling of an address.
	for addr, block := range refusedSamples {
		raw := "http://" + hostPort(addr, 8443) + "/hook"
		_, err := g.CheckURL(ctx, raw)
		if collector.ErrorCode(err) != collector.EINVALID || !strings.Contains(collector.ErrorMessage(err), "("+block+",") ||
			!strings.Contains(collector.ErrorMessage(err), "--webhook-allow-private") {
			t.Errorf("CheckURL(%s) = %v, want EINVALID naming %s", raw, err, block)
		}
	}
	for _, addr := range reservedSamples {
		if _, err := g.CheckURL(ctx, "https://"+hostPort(addr, 443)+"/"); !strings.Contains(collector.ErrorMessage(err), "outside 2000::/3") {
			t.Errorf("CheckURL(%s) = %v, want it refused", addr, err)
		}
	}
	for _, addr := range publicSamples {
		if _, err := g.CheckURL(ctx, "https://"+hostPort(addr, 443)+"/hook"); err != nil {
			t.Errorf("CheckURL(%s): %v", addr, err)
		}
	}
	allow := Guard{AllowPrivate: true}
	for _, raw := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.5/"} {
		if _, err := allow.CheckURL(ctx, raw); err != nil {
			t.Errorf("with AllowPrivate, CheckURL(%q): %v", raw, err)
		}
	}
	if _, err := allow.CheckURL(ctx, "file:///etc/passwd"); err == nil {
		t.Error("AllowPrivate lets a file URL through")
	}
}

// hostPort writes addr and port as a URL's host or a dial address would.
func hostPort(addr string, port uint16) string {
	return strings.ReplaceAll(netip.AddrPortFrom(netip.MustParseAddr(addr), port).String(), "%", "%25")
}

// The dial-time check sees the address actually dialled and applies the
// same table as registration.
func TestControl(t *testing.T) {
	g := Guard{}
	for addr, block := range refusedSamples {
		dial := netip.AddrPortFrom(netip.MustParseAddr(addr), 443).String()
		if err := g.Control("tcp", dial, nil); !errors.Is(err, errBlocked) || !strings.Contains(err.Error(), "("+block+",") {
			t.Errorf("Control(%s) = %v, want it refused naming %s", dial, err, block)
		}
	}
	for _, addr := range reservedSamples {
		if err := g.Control("tcp6", netip.AddrPortFrom(netip.MustParseAddr(addr), 80).String(), nil); !errors.Is(err, errBlocked) {
			t.Errorf("Control(%s) = %v, want it refused", addr, err)
		}
	}
	for _, addr := range publicSamples {
		if err := g.Control("tcp", netip.AddrPortFrom(netip.MustParseAddr(addr), 443).String(), nil); err != nil {
			t.Errorf("Control(%s): %v", addr, err)
		}
	}
	if err := g.Control("tcp", "not an address", nil); !errors.Is(err, errBlocked) {
		t.Errorf("Control(garbage) = %v", err)
	}
	if err := (Guard{AllowPrivate: true}).Control("tcp4", "127.0.0.1:80", nil); err != nil {
		t.Errorf("AllowPrivate: %v", err)
	}
}

// TestControlRefusesRealDials dials a real loopback listener through the
// guard, by every spelling that leads there: no connection is made, and
// the error is the guard's, not the network's. With AllowPrivate the same
// dials connect, so the listener was there to be reached.
func TestControlRefusesRealDials(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	defer ln.Close()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	targets := []string{"127.0.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost"}
	ctx := context.Background()
	refusing := &net.Dialer{Timeout: 5 * time.Second, Control: Guard{}.Control}
	for _, host := range append(targets, "[::127.0.0.1]", "[::1]", "[fec0::1]", "[64:ff9b::7f00:1]") {
		c, err := refusing.DialContext(ctx, "tcp", host+":"+port)
		if err == nil {
			c.Close()
		}
		if !errors.Is(err, errBlocked) {
			t.Errorf("dial %s:%s = %v, want the guard's refusal", host, port, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the guarded dials reached the listener %d times", n)
	}
	allowing := &net.Dialer{Timeout: 5 * time.Second, Control: Guard{AllowPrivate: true}.Control}
	for _, host := range targets {
		c, err := allowing.DialContext(ctx, "tcp4", host+":"+port)
		if err != nil {
			t.Fatalf("with AllowPrivate, dial %s: %v", host, err)
		}
		c.Close()
	}
}

func TestCheckTypes(t *testing.T) {
	got, err := CheckTypes([]string{"SignIn", "business:AddToCart", "SignIn", "business:*", "visitorData.changed", "VisitEnded"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, " ") != "SignIn business:AddToCart business:* visitorData.changed VisitEnded" {
		t.Errorf("CheckTypes = %v", got)
	}
	for _, bad := range [][]string{nil, {}, {"PageEntered"}, {"signin"}, {"business:"}, {"business:SignIn"},
		{"business:" + strings.Repeat("x", 129)}, {"Checkout"}, {"visitorData.*"}} {
		if _, err := CheckTypes(bad); collector.ErrorCode(err) != collector.EINVALID {
			t.Errorf("CheckTypes(%q) = %v, want EINVALID", bad, err)
		}
	}
	many := make([]string, 65)
	for i := range many {
		many[i] = "business:E" + strings.Repeat("x", i)
	}
	if _, err := CheckTypes(many); err == nil {
		t.Error("65 types accepted")
	}
	s := newSubscription(&collector.Webhook{Events: []string{"SignIn", "business:*"}})
	for typ, want := range map[string]bool{"SignIn": true, "SignOut": false, "business:Anything": true, "visitorData.changed": false} {
		if s.wants(typ) != want {
			t.Errorf("wants(%s) = %v", typ, !want)
		}
	}
	for name, want := range map[string]string{"SignIn": "SignIn", "PageEntered": "", "PageExited": "", "Buy": "business:Buy", "VisitEnded": "VisitEnded"} {
		if got := typeOf(name); got != want {
			t.Errorf("typeOf(%s) = %q, want %q", name, got, want)
		}
	}
}
