//go:build browser

package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/web"
)

// collectorProc is a real collector as the binary runs it (daemon.Main with
// the embedded web files), on a loopback port and a fresh SQLite file.
type collectorProc struct {
	*daemon.Main
	t       testing.TB
	dir     string
	flags   []string
	stopped bool
}

// startCollector runs a collector on addr ("127.0.0.1:0" for any port) in
// dir, stopped when the test ends. Unless flags say otherwise, the only
// origin it allows is its own, where the demo pages are: as an operator
// runs it, not with "*"; a test that embeds the tracker in another site
// passes --allowed-origins with that site.
func startCollector(t testing.TB, dir, addr string, flags ...string) *collectorProc {
	t.Helper()
	if strings.HasSuffix(addr, ":0") {
		// The port must be known before the collector starts, to be
		// allowed as an origin: take a free one.
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	}
	m := daemon.New(io.Discard, logWriter{t})
	// The browser tests walk the demo shop, which exists only with --demo.
	args := append([]string{"--addr", addr, "--data-dir", dir, "--log-level", "warn", "--demo"}, flags...)
	if !hasFlag(flags, "--allowed-origins") {
		args = append(args, "--allowed-origins", "http://"+addr)
	}
	if err := m.ParseFlags(args, func(string) string { return "" }); err != nil {
		t.Fatalf("collector flags: %v", err)
	}
	m.Static = web.Handler()
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("collector run: %v", err)
	}
	c := &collectorProc{Main: m, t: t, dir: dir, flags: flags}
	t.Cleanup(c.stop)
	status, body := c.get("/gt.js")
	if status != http.StatusOK || !strings.Contains(string(body), "tracker.") {
		t.Fatalf("GET /gt.js: %d: the web files are not embedded; run make web-assets first", status)
	}
	return c
}

func hasFlag(flags []string, name string) bool {
	for _, f := range flags {
		if f == name {
			return true
		}
	}
	return false
}

func (c *collectorProc) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Main.Close(ctx); err != nil {
		c.t.Errorf("collector close: %v", err)
	}
}

// restart stops the collector and starts it again on the same address and
// data directory.
func (c *collectorProc) restart(downFor func()) *collectorProc {
	c.t.Helper()
	addr := c.Addr()
	c.stop()
	downFor()
	return startCollector(c.t, c.dir, addr, c.flags...)
}

func (c *collectorProc) get(path string) (int, []byte) {
	c.t.Helper()
	return collectortest.Request(c.t, c.URL(), c.AdminToken, "GET", path, nil)
}

// getJSON decodes a 200 answer of the History API.
func (c *collectorProc) getJSON(path string, v any) {
	c.t.Helper()
	status, body := c.get(path)
	if status != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

func (c *collectorProc) visit(id string) collector.Visit {
	var v collector.Visit
	c.getJSON("/v1/visits/"+id, &v)
	return v
}

func (c *collectorProc) events(visitID string) []collector.Event {
	var l list[collector.Event]
	c.getJSON("/v1/visits/"+visitID+"/events?limit=1000", &l)
	return l.Items
}

func (c *collectorProc) pages(visitID string) []collector.Page {
	var l list[collector.Page]
	c.getJSON("/v1/visits/"+visitID+"/pages?limit=1000", &l)
	return l.Items
}

// waitEvents polls the History API until cond holds for the visit's
// events, and returns them.
func (c *collectorProc) waitEvents(visitID string, what string, cond func([]collector.Event) bool) []collector.Event {
	c.t.Helper()
	var evs []collector.Event
	deadline := time.Now().Add(time.Minute)
	for {
		if status, _ := c.get("/v1/visits/" + visitID); status == http.StatusOK {
			evs = c.events(visitID)
			if cond(evs) {
				return evs
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("visit %s: timed out waiting for %s; events: %s", visitID, what, names(evs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func names(evs []collector.Event) string {
	var n []string
	for _, e := range evs {
		n = append(n, e.Name)
	}
	return strings.Join(n, ",")
}

func count(evs []collector.Event, name string) int {
	n := 0
	for _, e := range evs {
		if e.Name == name {
			n++
		}
	}
	return n
}

// profiles holds every test browser's profile (TestMain).
var profiles string

// TestMain removes the browsers' profiles after the tests. Each test
// removes its own too, but a helper of Chromium's that outlives the
// browser for a moment may write its cache again after that (it left
// Default/Cache/Cache_Data behind in /tmp, one directory a run).
func TestMain(m *testing.M) {
	if os.Getenv(nodeEnv) != "" {
		runNode() // a collector process of twonode_test.go
		return
	}
	dir, err := os.MkdirTemp("", "visitrack-chromium-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "browser profiles:", err)
		os.Exit(1)
	}
	profiles = dir
	code := pgtest.Run(m) // the two-node tests' PostgreSQL (twonode_test.go)
	for range 20 {
		if os.RemoveAll(dir) == nil {
			time.Sleep(200 * time.Millisecond)
			if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
				break
			}
			continue
		}
		time.Sleep(100 * time.Millisecond)
	}
	os.Exit(code)
}

// newBrowser starts headless Chromium with a fresh profile (the flags of
// chromiumOptions) and returns its first tab.
func newBrowser(t testing.TB) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium is not installed (make test-browser installs it): %v", err)
	}
	// Not t.TempDir: Chromium's helpers may still write the cache while it
	// is removed, which would fail the test. Under profiles, which
	// TestMain removes once every browser is long gone.
	profile, err := os.MkdirTemp(profiles, "profile-")
	if err != nil {
		t.Fatal(err)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromiumOptions(path, profile)...)
	ctx, cancel := chromedp.NewContext(actx)
	// No timeout on the first Run: it starts the browser.
	if err := chromedp.Run(ctx); err != nil {
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		for i := 0; i < 20 && os.RemoveAll(profile) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	return ctx
}

// newTab opens another tab of the same browser (same cookies and storage).
func newTab(t testing.TB, browser context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("new tab: %v", err)
	}
	t.Cleanup(cancel)
	return ctx
}

func run(t testing.TB, tab context.Context, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, time.Minute)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("chromedp: %v", err)
	}
}

// eval evaluates expr in the page, awaiting a promise, into out.
func eval(t testing.TB, tab context.Context, expr string, out any) {
	t.Helper()
	run(t, tab, chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
}

// open navigates and waits until the tracker runs.
func open(t testing.TB, tab context.Context, url string) {
	t.Helper()
	run(t, tab, chromedp.Navigate(url))
	waitPage(t, tab, "the tracker to start", `!!(window._gt && window._gt.tracker)`)
}

// waitPage polls a boolean expression in the page.
func waitPage(t testing.TB, tab context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var ok bool
		eval(t, tab, expr, &ok)
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%s)", what, expr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ids is window.visitrack.ids().
type ids struct {
	VisitorID  string  `json:"visitorId"`
	VisitID    string  `json:"visitId"`
	PageID     string  `json:"pageId"`
	IdentityID *string `json:"identityId"`
	State      string  `json:"state"`
	Verified   bool    `json:"verified"`
}

func pageIDs(t testing.TB, tab context.Context) ids {
	t.Helper()
	var v ids
	eval(t, tab, `visitrack.ids()`, &v)
	return v
}

// connected waits until the tracker's WebSocket was welcomed, so that ids
// carry what the collector settled on.
func connected(t testing.TB, tab context.Context) ids {
	t.Helper()
	waitPage(t, tab, "the welcome", `visitrack.stats().then(s => s.transport === 'websocket')`)
	return pageIDs(t, tab)
}

func cookies(t testing.TB, tab context.Context) string {
	t.Helper()
	var s string
	eval(t, tab, `document.cookie`, &s)
	return s
}

// browserCookie returns the browser's cookie name for url as the browser
// keeps it, HttpOnly ones included (which document.cookie hides), or nil.
func browserCookie(t testing.TB, tab context.Context, url, name string) *network.Cookie {
	t.Helper()
	var all []*network.Cookie
	run(t, tab, chromedp.ActionFunc(func(ctx context.Context) error {
		var err error
		all, err = network.GetCookies().WithURLs([]string{url}).Do(ctx)
		return err
	}))
	for _, c := range all {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// logWriter shows the collector's log in the test log with
// VISITRACK_TEST_LOG=1.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	if os.Getenv("VISITRACK_TEST_LOG") != "" {
		w.t.Logf("%s", strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// waitVisitEnded polls the History API until the collector has ended the
// visit (its visit timeout passed).
func (c *collectorProc) waitVisitEnded(visitID string) {
	c.t.Helper()
	waitFor(c.t, "visit "+visitID+" to end", func() bool { return c.visit(visitID).EndedAt != nil })
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond) // poll interval
	}
}

// watchRefusals counts the refusals the tab gets from the collector at
// collectorURL: a 403 to a request, a request to it that failed for want
// of CORS permission (a 403 carries none; the page cannot see its status),
// or a WebSocket handshake answered 403.
func watchRefusals(t testing.TB, tab context.Context, collectorURL string) *atomic.Int64 {
	t.Helper()
	n := new(atomic.Int64)
	var mu sync.Mutex
	toCollector := map[network.RequestID]bool{}
	chromedp.ListenTarget(tab, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if strings.HasPrefix(e.Request.URL, collectorURL+"/v1/") {
				mu.Lock()
				toCollector[e.RequestID] = true
				mu.Unlock()
			}
		case *network.EventResponseReceived:
			if strings.HasPrefix(e.Response.URL, collectorURL+"/v1/") && e.Response.Status == http.StatusForbidden {
				n.Add(1)
			}
		case *network.EventLoadingFailed:
			mu.Lock()
			ours := toCollector[e.RequestID]
			mu.Unlock()
			if ours && e.CorsErrorStatus != nil {
				n.Add(1)
			}
		case *network.EventWebSocketFrameError:
			if strings.Contains(e.ErrorMessage, "Unexpected response code: 403") {
				n.Add(1)
			}
		}
	})
	run(t, tab, network.Enable())
	return n
}
