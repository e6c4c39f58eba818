package live

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/identity"
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

func TestReadJarIgnoresBadValues(t *testing.T) {
	r := httptest.NewRequest("GET", "/v1/ws", nil)
	r.Header.Set("Cookie", "_vt_vid=not-a-ulid; _vt_uid="+strings.Repeat("A", maxCookieLen+1))
	j := readJar(r)
	if j.visitorID != "" || j.token != "" || !j.badToken {
		t.Fatalf("oversize: %+v", j)
	}
	r.Header.Set("Cookie", `_vt_vid=01JD0000000000000000000000; _vt_uid=v1.abc.def`)
	if j := readJar(r); j.visitorID != "01JD0000000000000000000000" || j.token != "v1.abc.def" || j.badToken {
		t.Fatalf("good: %+v", j)
	}
}

// TestRefusedHandoffsDoNotFloodTheLog: refusals are logged at growing
// intervals (the 1st, 2nd, 4th, 8th…), with the reason and never the
// token.
func TestRefusedHandoffsDoNotFloodTheLog(t *testing.T) {
	var buf strings.Builder
	h := New(Config{Logger: slog.New(slog.NewTextHandler(&buf, nil))})
	for i := 0; i < 100; i++ {
		h.refuseHandoff(identity.ErrSignature)
	}
	lines := strings.Count(buf.String(), "handoff token refused")
	if lines != 7 || !strings.Contains(buf.String(), "reason=forged") || !strings.Contains(buf.String(), "refusedSinceStart=64") {
		t.Fatalf("%d lines:\n%s", lines, buf.String())
	}
}
