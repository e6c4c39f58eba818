package live_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestOriginMatching: an Origin is allowed only when it is exactly one of
// --allowed-origins (scheme, host and port), up to what browsers
// normalise: case and the scheme's default port. "null" (sandboxed frames,
// file: pages) is never allowed by name, and a host that merely starts
// like an allowed one is another site. Both transports ask the same
// question: the CORS preflight of /v1/collect and the WebSocket upgrade.
func TestOriginMatching(t *testing.T) {
	col := collectortest.Start(t, "--allowed-origins",
		"https://shop.example, http://Localhost:8080, https://Admin.Shop.Example:443/, null")
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"https://shop.example", true},
		{"HTTPS://SHOP.EXAMPLE", true},           // scheme and host are case-insensitive
		{"https://shop.example:443", true},       // the default port, spelt out
		{"https://admin.shop.example", true},     // configured with case, :443 and a slash
		{"http://localhost:8080", true},          // configured with case
		{"https://shop.example.evil.com", false}, // prefix
		{"https://shop.example:8443", false},     // another port
		{"https://shop.example:80", false},       // http's default port is not https's
		{"http://shop.example", false},           // another scheme
		{"wss://shop.example", false},
		{"https://evil.shop.example", false}, // a subdomain is another origin
		{"https://hop.example", false},       // suffix
		{"https://shop.exampl", false},       // prefix of the allowed host
		{"https://xshop.example", false},
		{"http://localhost", false}, // the port is part of the origin
		{"http://localhost:80", false},
		{"http://localhost:8080.evil.com", false},
		{"null", false}, // even when listed
		{"NULL", false},
		{"https://shop.example, https://evil.example", false},
		{"https://shop.example/", false}, // browsers send no path; nothing is trimmed
	} {
		t.Run(tc.origin, func(t *testing.T) {
			status, acao := preflight(t, col.URL(), tc.origin)
			if tc.ok && (status != http.StatusNoContent || acao != tc.origin) {
				t.Errorf("preflight from allowed %q: status %d, Access-Control-Allow-Origin %q", tc.origin, status, acao)
			}
			if !tc.ok && (status != http.StatusForbidden || acao != "") {
				t.Errorf("preflight from refused %q: status %d, Access-Control-Allow-Origin %q", tc.origin, status, acao)
			}
			if got := dialStatus(t, col.WSURL(), tc.origin); tc.ok != (got == http.StatusSwitchingProtocols) ||
				!tc.ok && got != http.StatusForbidden {
				t.Errorf("WebSocket from %q: status %d, want allowed %v", tc.origin, got, tc.ok)
			}
		})
	}
}

// TestOriginWildcard: "*" allows any page, which is what it is for (trying
// things out); a listed origin next to it changes nothing.
func TestOriginWildcard(t *testing.T) {
	col := collectortest.Start(t, "--allowed-origins", "https://shop.example,*")
	for _, o := range []string{"https://anything.example", "http://127.0.0.1:3000"} {
		if status, acao := preflight(t, col.URL(), o); status != http.StatusNoContent || acao != o {
			t.Errorf("preflight from %q with *: %d %q", o, status, acao)
		}
	}
}

// preflight sends the CORS preflight of /v1/collect from origin and
// returns the status and Access-Control-Allow-Origin.
func preflight(t *testing.T, base, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", base+"/v1/collect", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("preflight from %q: %v", origin, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Access-Control-Allow-Origin")
}

// dialStatus opens a WebSocket from origin and returns the HTTP status of
// the upgrade.
func dialStatus(t *testing.T, wsURL, origin string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h := http.Header{}
	h.Set("Origin", origin)
	conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}, HTTPHeader: h})
	if conn != nil {
		conn.CloseNow()
	}
	if resp == nil {
		t.Fatalf("WebSocket from %q: no answer: %v", origin, err)
	}
	return resp.StatusCode
}
