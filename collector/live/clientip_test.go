package live

import (
	"crypto/tls"
	"net/http/httptest"
	"testing"
)

func TestForwardedFor(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8", " 192.168.1.1 ", "::1/128", "::ffff:172.16.0.0/108"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		trusted      bool // false: no trusted proxies at all
		want         string
	}{
		{"no proxies configured", "10.0.0.5:443", []string{"203.0.113.7"}, false, "10.0.0.5"},
		{"untrusted peer", "198.51.100.9:5000", []string{"203.0.113.7"}, true, "198.51.100.9"},
		{"trusted peer, no header", "10.0.0.5:443", nil, true, "10.0.0.5"},
		{"trusted peer, empty header", "10.0.0.5:443", []string{""}, true, "10.0.0.5"},
		{"one hop", "10.0.0.5:443", []string{"203.0.113.7"}, true, "203.0.113.7"},
		{"spoofed left part", "10.0.0.5:443", []string{"1.2.3.4, 203.0.113.7"}, true, "203.0.113.7"},
		{"proxy chain", "10.0.0.5:443", []string{"1.2.3.4, 203.0.113.7, 10.1.2.3, 192.168.1.1"}, true, "203.0.113.7"},
		{"several header lines", "10.0.0.5:443", []string{"1.2.3.4, 203.0.113.7", "10.9.9.9"}, true, "203.0.113.7"},
		{"single address, not its neighbour", "192.168.1.2:80", []string{"203.0.113.7"}, true, "192.168.1.2"},
		{"all trusted: leftmost", "10.0.0.5:443", []string{"10.3.3.3, 10.2.2.2"}, true, "10.3.3.3"},
		{"garbage rightmost", "10.0.0.5:443", []string{"203.0.113.7, unknown"}, true, "10.0.0.5"},
		{"garbage left of the client is not reached", "10.0.0.5:443", []string{"nonsense, 203.0.113.7"}, true, "203.0.113.7"},
		{"entry with port", "10.0.0.5:443", []string{"203.0.113.7:4711"}, true, "203.0.113.7"},
		{"IPv6 entry with port", "10.0.0.5:443", []string{"[2001:db8::7]:4711"}, true, "2001:db8::7"},
		{"IPv6 entry in brackets", "10.0.0.5:443", []string{"[2001:db8::7]"}, true, "2001:db8::7"},
		{"IPv6 loopback proxy", "[::1]:8080", []string{"2001:db8::7"}, true, "2001:db8::7"},
		{"IPv4-mapped peer", "[::ffff:10.0.0.5]:443", []string{"203.0.113.7"}, true, "203.0.113.7"},
		{"IPv4-mapped entry", "10.0.0.5:443", []string{"::ffff:203.0.113.7"}, true, "203.0.113.7"},
		{"IPv4-mapped prefix", "172.16.4.4:443", []string{"203.0.113.7"}, true, "203.0.113.7"},
		{"IPv4-mapped prefix, outside", "172.32.0.1:443", []string{"203.0.113.7"}, true, "172.32.0.1"},
		{"peer without port", "10.0.0.5", []string{"203.0.113.7"}, true, "203.0.113.7"},
		{"unparsable peer", "pipe", []string{"203.0.113.7"}, true, "pipe"},
	} {
		tr := trusted
		if !tc.trusted {
			tr = nil
		}
		if got := forwardedFor(tc.remote, tc.xff, tr); got != tc.want {
			t.Errorf("%s: forwardedFor(%q, %q) = %q, want %q", tc.name, tc.remote, tc.xff, got, tc.want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "proxy.example", "10.0.0.0/", "::ffff:10.0.0.0/80"} {
		if _, err := ParseTrustedProxies([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	got, err := ParseTrustedProxies([]string{"10.1.2.3/8", "", "2001:db8::1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].String() != "10.0.0.0/8" || got[1].String() != "2001:db8::1/128" {
		t.Fatalf("parsed %v", got)
	}
}

// TestAddrGroup: every per-address cap and rate limit counts an IPv4
// address alone, an IPv4-mapped address as its IPv4 address, and an IPv6
// address with the rest of its /64.
func TestAddrGroup(t *testing.T) {
	for _, tc := range []struct{ ip, want string }{
		{"203.0.113.7", "203.0.113.7/32"},
		{"203.0.113.8", "203.0.113.8/32"},
		{"::ffff:203.0.113.7", "203.0.113.7/32"},
		{"2001:db8:1:2::a", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{"2001:db8:1:3::a", "2001:db8:1:3::/64"},
		{"fe80::1%eth0", "fe80::/64"},
		{"::1", "::/64"},
	} {
		if got := ipGroup(tc.ip); got.String() != tc.want {
			t.Errorf("ipGroup(%q) = %s, want %s", tc.ip, got, tc.want)
		}
	}
	if ipGroup("2001:db8:1:2::a") != ipGroup("2001:db8:1:2:8000::1") {
		t.Error("two addresses of one /64 are different groups")
	}
	if ipGroup("203.0.113.7") != ipGroup("::ffff:203.0.113.7") {
		t.Error("an IPv4-mapped address is not its IPv4 address's group")
	}
	if ipGroup("203.0.113.7") == ipGroup("203.0.113.8") {
		t.Error("two IPv4 addresses share a group")
	}
	for _, bad := range []string{"", "pipe", "@"} {
		if g := ipGroup(bad); g.IsValid() {
			t.Errorf("ipGroup(%q) = %s, want the zero Prefix", bad, g)
		}
	}
	// The rate limiter groups every frame: the grouping must not allocate.
	if n := testing.AllocsPerRun(100, func() { ipGroup("2001:db8:1:2::a") }); n != 0 {
		t.Errorf("ipGroup allocates %v times", n)
	}
}

// TestAddressed: the host and scheme the browser addressed come from the
// request itself, and from X-Forwarded-Host and -Proto (their first
// entries) only when a trusted proxy sent them.
func TestAddressed(t *testing.T) {
	trusted, err := ParseTrustedProxies([]string{"10.0.0.0/8"})
	if err != nil {
		t.Fatal(err)
	}
	h := New(Config{TrustedProxies: trusted})
	for _, tc := range []struct {
		name, remote, host, fwdHost, fwdProto string
		tls                                   bool
		wantHost                              string
		wantSecure                            bool
	}{
		{"direct", "198.51.100.9:5000", "VT.Shop.Example:8443", "", "", false, "vt.shop.example", false},
		{"direct tls", "198.51.100.9:5000", "vt.shop.example", "", "", true, "vt.shop.example", true},
		{"ipv6 host", "198.51.100.9:5000", "[::1]:8080", "", "", false, "::1", false},
		{"untrusted headers", "198.51.100.9:5000", "127.0.0.1:8080", "vt.shop.example", "https", false, "127.0.0.1", false},
		{"trusted proxy", "10.0.0.5:443", "127.0.0.1:8080", "VT.shop.example:443, inner", " HTTPS , http", false, "vt.shop.example", true},
		{"trusted proxy says http", "10.0.0.5:443", "127.0.0.1:8080", "vt.shop.example", "http", true, "vt.shop.example", false},
		{"trusted proxy, no headers", "10.0.0.5:443", "vt.shop.example", "", "", true, "vt.shop.example", true},
	} {
		r := httptest.NewRequest("POST", "/v1/collect", nil)
		r.RemoteAddr, r.Host = tc.remote, tc.host
		if !tc.tls {
			r.TLS = nil
		} else {
			r.TLS = &tls.ConnectionState{}
		}
		if tc.fwdHost != "" {
			r.Header.Set("X-Forwarded-Host", tc.fwdHost)
		}
		if tc.fwdProto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.fwdProto)
		}
		if host, secure := h.addressed(r); host != tc.wantHost || secure != tc.wantSecure {
			t.Errorf("%s: addressed = %q, %v; want %q, %v", tc.name, host, secure, tc.wantHost, tc.wantSecure)
		}
	}
}
