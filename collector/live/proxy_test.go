package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httputil"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/net/publicsuffix"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestBehindReverseProxy runs the deployment docs/operations.md recommends: the
// collector under the site's own host and a path prefix (/vt/), behind a
// reverse proxy (net/http/httputil, WebSocket included). A browser-like
// client with a cookie jar keeps what the collector sets: the HttpOnly
// _vt_uid recognizes it after its visit timed out, with no token in hello.
func TestBehindReverseProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	site := "http://localhost:" + portOf(ln.Addr().String())
	col := collectortest.Start(t, "--allowed-origins", site, "--identity-secret", secret, "--visit-timeout", "300ms")
	target, _ := url.Parse(col.URL())
	// NewSingleHostReverseProxy keeps the Host the browser sent, as
	// nginx's proxy_set_header Host $host and Caddy's reverse_proxy do.
	srv := &http.Server{Handler: http.StripPrefix("/vt", httputil.NewSingleHostReverseProxy(target))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	jar, _ := cookiejar.New(&cookiejar.Options{PublicSuffixList: publicsuffix.List})
	browser := &http.Client{Jar: jar}
	dial := func(hello protocol.Hello) (*websocket.Conn, protocol.Welcome, *http.Response) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ws, resp, err := websocket.Dial(ctx, "ws://localhost:"+portOf(ln.Addr().String())+"/vt/v1/ws?cookies=auto", &websocket.DialOptions{
			Subprotocols: []string{protocol.Subprotocol}, HTTPClient: browser, HTTPHeader: http.Header{"Origin": {site}}})
		if err != nil {
			t.Fatalf("dial through the proxy: %v", err)
		}
		t.Cleanup(func() { ws.CloseNow() })
		hello.Type = protocol.TypeHello
		writeJSON(t, ws, hello)
		var w protocol.Welcome
		readJSON(t, ws, protocol.TypeWelcome, &w)
		return ws, w, resp
	}

	ws, w, _ := dial(protocol.Hello{})
	if w.Cookies != protocol.CookiesSync {
		t.Fatalf("first welcome: cookies %q, want sync", w.Cookies)
	}
	writeJSON(t, ws, protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{signInEvent("ada")}})
	var id protocol.Identity
	readJSON(t, ws, protocol.TypeIdentity, &id)
	if id.Recognition == nil || !id.Verified {
		t.Fatalf("identity %+v", id)
	}

	// What the tracker does after an identity frame.
	body, _ := json.Marshal(protocol.CookiesRequest{VisitorID: w.VisitorID, VisitorKey: w.VisitorKey, Recognition: id.Recognition})
	req, _ := http.NewRequest("POST", site+"/vt/v1/cookies", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", site)
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	uid := setCookie(resp, "_vt_uid")
	if resp.StatusCode != 200 || uid == nil || !uid.HttpOnly || uid.Path != "/" || uid.SameSite != http.SameSiteLaxMode {
		t.Fatalf("POST /vt/v1/cookies: %d, _vt_uid %+v", resp.StatusCode, uid)
	}
	ws.Close(websocket.StatusNormalClosure, "")
	waitVisitEnded(t, col, w.VisitID)

	_, again, hs := dial(protocol.Hello{VisitID: w.VisitID})
	if again.VisitorID != w.VisitorID || again.VisitID == w.VisitID {
		t.Fatalf("after the timeout: %+v, want a new visit of %s", again, w.VisitorID)
	}
	if again.State != protocol.StateRecognized || !again.Verified || again.Recognition != nil || again.Cookies != protocol.CookiesServer {
		t.Fatalf("after the timeout: %+v, want recognized from the cookie, verified, no token for the script", again)
	}
	if v := setCookie(hs, "_vt_vid"); v == nil || v.Value != w.VisitorID {
		t.Fatalf("handshake through the proxy: _vt_vid %+v", v)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func writeJSON(t *testing.T, ws *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// readJSON reads frames until one of type typ, skipping visitor-data
// pushes, and decodes it into v.
func readJSON(t *testing.T, ws *websocket.Conn, typ string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var env protocol.Envelope
		json.Unmarshal(b, &env)
		if env.Type == typ {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatal(err)
			}
			return
		}
		if env.Type != protocol.TypeVisitorData && env.Type != protocol.TypeAck {
			t.Fatalf("got %s, want %s", b, typ)
		}
	}
}
