package live

import (
	"strings"
	"testing"
)

func TestSameSite(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"shop.example.com", "collector.example.com", true},
		{"shop.example.com", "shop.example.com", true},
		{"example.com", "vt.example.com", true},
		{"shop.example.co.uk", "collector.example.co.uk", true},
		{"a.co.uk", "b.co.uk", false}, // co.uk is a public suffix
		{"alice.github.io", "bob.github.io", false},
		{"shop.example.com", "collector.example.net", false},
		{"localhost", "localhost", true},
		{"localhost", "127.0.0.1", false},
		{"127.0.0.1", "127.0.0.1", true},
		{"127.0.0.1", "127.0.0.2", false},
		{"::1", "::1", true},
		{"", "", false},
	}
	for _, tc := range cases {
		if got := sameSite(tc.a, tc.b); got != tc.want {
			t.Errorf("sameSite(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestCookieDomainFor(t *testing.T) {
	cases := []struct{ domain, host, want string }{
		{"example.com", "collector.example.com", "example.com"},
		{".example.com", "collector.example.com", "example.com"},
		{"Example.COM", "example.com", "example.com"},
		{"collector.example.com", "collector.example.com", "collector.example.com"},
		{"other.com", "collector.example.com", ""},           // not a parent
		{"ample.com", "collector.example.com", ""},           // a suffix, not a parent
		{"com", "collector.example.com", ""},                 // a public suffix
		{"co.uk", "shop.example.co.uk", ""},                  // a public suffix
		{"shop.example.com", "collector.example.com", ""},    // a sibling
		{"127.0.0.1", "127.0.0.1", ""},                       // no Domain on addresses
		{"", "collector.example.com", ""},                    // none asked
		{strings.Repeat("a.", 200) + "example.com", "x", ""}, // oversize
	}
	for _, tc := range cases {
		if got := cookieDomainFor(tc.domain, tc.host); got != tc.want {
			t.Errorf("cookieDomainFor(%q, %q) = %q, want %q", tc.domain, tc.host, got, tc.want)
		}
	}
}
