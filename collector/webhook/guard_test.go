package webhook

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
)

func TestBlocked(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "loopback", "127.9.9.9": "loopback", "::1": "loopback",
		"::ffff:127.0.0.1": "loopback", "10.1.2.3": "private", "172.16.0.1": "private",
		"192.168.1.1": "private", "fd00::1": "private", "169.254.169.254": "link-local",
		"fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified",
		"224.0.0.1": "multicast", "ff02::1": "multicast", "100.64.0.1": "carrier-grade NAT",
		"255.255.255.255": "broadcast", "64:ff9b::7f00:1": "NAT64", "0.1.2.3": "this-network",
		"93.184.216.34": "", "2606:2800:220:1:248:1893:25c8:1946": "", "8.8.8.8": "",
	} {
		if got := blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blocked(%s) = %q, want %q", addr, got, want)
		}
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

// The dial-time check sees the address actually dialled.
func TestControl(t *testing.T) {
	g := Guard{}
	for _, addr := range []string{"127.0.0.1:80", "[::1]:443", "10.0.0.1:80", "[fe80::1%eth0]:80", "169.254.169.254:80"} {
		if err := g.Control("tcp4", addr, nil); err == nil {
			t.Errorf("Control(%s) lets it through", addr)
		}
	}
	if err := g.Control("tcp4", "93.184.216.34:443", nil); err != nil {
		t.Errorf("Control(public): %v", err)
	}
	if err := (Guard{AllowPrivate: true}).Control("tcp4", "127.0.0.1:80", nil); err != nil {
		t.Errorf("AllowPrivate: %v", err)
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
