//go:build browser

package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
)

// storyEngines are the browser engines the identity story runs in: the
// three that visitors' browsers are built on.
var storyEngines = []struct {
	name  string
	start StartEngine
}{
	{"chromium", StartChromium},
	{"firefox", StartFirefox},
	{"webkit", StartWebKit},
}

// storyConfig is one way a site deploys the tracker and the collector; the
// story must hold in every one, in every engine.
type storyConfig struct {
	name string
	// tracker is a JavaScript object literal merged into the page's
	// ['config', …] (after collector and visitTimeoutMinutes).
	tracker string
	// flags are collector flags added to the story's own.
	flags []string
	// httpOnly: the collector keeps the key and recognition token in
	// HttpOnly cookies, which the page's script never sees (recognition
	// after the visit timeout then proves they were kept).
	httpOnly bool
}

// storyConfigs: a row for each deployment the story must survive. The
// story asserts only through visitrack.ids() and the History API, never
// through cookies, so it runs unchanged with the cookies kept by the
// script and with the collector setting them HttpOnly (first-party mode:
// the page and the collector share the host here).
var storyConfigs = []storyConfig{
	{name: "script-cookies", tracker: `{cookies: 'script'}`},
	{name: "server-cookies", tracker: `{cookies: 'server'}`, httpOnly: true},
}

const (
	// storyVisitTimeout is short so that the story waits seconds for a
	// visit to end, and long enough that the steps of one visit never
	// leave a gap that ends it on a loaded machine (no REST checks run
	// between them).
	storyVisitTimeout = 4 * time.Second
	storySecret       = "story-identity-secret"
	storyUser         = "ann@example.com"
	// storyWait bounds every wait on a condition (a loaded 2-core machine
	// running three browsers in turn).
	storyWait = 45 * time.Second
)

// The tracker's identity story in Chromium, Firefox and WebKit: an
// anonymous visitor signs in with the site's proof (verified), sends a
// business event, leaves (PageExited by beacon); the visit times out; the
// visitor comes back and is recognized, verified; signs out and the rest of
// the visit is anonymous. The page's site is another origin on the
// collector's host, allowed by --allowed-origins.
func TestIdentityStoryInEngines(t *testing.T) {
	for _, eng := range storyEngines {
		t.Run(eng.name, func(t *testing.T) {
			for _, cfg := range storyConfigs {
				t.Run(cfg.name, func(t *testing.T) {
					start := time.Now()
					runIdentityStory(t, eng.start, cfg)
					t.Logf("%s/%s: %.1f s", eng.name, cfg.name, time.Since(start).Seconds())
				})
			}
		})
	}
}

func runIdentityStory(t *testing.T, start StartEngine, cfg storyConfig) {
	var c *collectorProc
	site := storySite(t, func() string { return c.URL() }, cfg.tracker)
	flags := append([]string{"--allowed-origins", site, "--visit-timeout", storyVisitTimeout.String(),
		"--identity-secret", storySecret}, cfg.flags...)
	c = startCollector(t, t.TempDir(), "127.0.0.1:0", flags...)
	s := &story{t: t, c: c, site: site, eng: startStoryEngine(t, start)}
	checkEngineContract(t, s.eng)

	// 1. Anonymous.
	anon := s.open("/shop/landing")
	if anon.State != "anonymous" || anon.Verified || anon.IdentityID != nil || anon.VisitID == "" || anon.VisitorID == "" {
		t.Fatalf("first page: %+v", anon)
	}

	// 2. SignIn with the proof the site's backend computes. Its promise
	// resolves on the collector's ack; the identity frame that follows
	// the ack may come later than the tracker waits for it on a loaded
	// machine, so the new state is waited for in ids().
	s.eval(fmt.Sprintf(`visitrack.signIn(%q, {name: 'Ann', userHash: %q}).then(() => true)`,
		storyUser, identity.UserHash(storySecret, storyUser)), new(bool))
	signedIn := s.waitIDs("the sign-in", func(i ids) bool { return i.State != "anonymous" })
	if signedIn.State != "authenticated" || !signedIn.Verified || signedIn.IdentityID == nil ||
		signedIn.VisitID != anon.VisitID || signedIn.VisitorID != anon.VisitorID {
		t.Fatalf("after signIn %+v (before: %+v)", signedIn, anon)
	}
	identityID := *signedIn.IdentityID
	var jar string
	s.eval(`document.cookie`, &jar)
	uid, key := strings.Contains(jar, "_vt_uid="), strings.Contains(jar, "_vt_key=")
	if cfg.httpOnly && (uid || key) || !cfg.httpOnly && !(uid && key) {
		t.Fatalf("%s: after signIn the page's script sees cookies %q (HttpOnly mode: %v)", s.eng.Name(), jar, cfg.httpOnly)
	}

	// 3. A business event, 4. leave the site by a link: PageExited goes by
	// beacon.
	s.eval(`visitrack.track('AddToCart', {sku: 'mug', qty: 2}).then(() => true)`, new(bool))
	s.follow("about:blank")
	left := time.Now()

	// What the first visit stored (checked while it times out).
	first := anon.VisitID
	evs := s.waitEvents(first, "PageExited", func(evs []collector.Event) bool { return count(evs, "PageExited") == 1 })
	// (VisitEnded may already follow on a slow machine: checked below.)
	if got := strings.TrimSuffix(names(evs), ",VisitEnded"); got != "VisitStarted,PageEntered,SignIn,AddToCart,PageExited" {
		t.Fatalf("first visit's events %s", got)
	}
	signIn, cart, exited := evs[2], evs[3], evs[4]
	if signIn.IdentityID == nil || *signIn.IdentityID != identityID || signIn.PageID != anon.PageID {
		t.Fatalf("SignIn %+v", signIn)
	}
	if cart.Category != "business" || cart.PageID != anon.PageID || cart.IdentityID == nil ||
		*cart.IdentityID != identityID || cart.SessionID != signIn.SessionID || !strings.Contains(string(cart.Data), `"sku":"mug"`) {
		t.Fatalf("AddToCart %+v %s", cart, cart.Data)
	}
	if exited.PageID != anon.PageID {
		t.Fatalf("PageExited %+v", exited)
	}
	var page collector.Page
	c.getJSON("/v1/pages/"+anon.PageID, &page)
	if page.ExitedAt == nil || !strings.HasSuffix(page.URL, "/shop/landing") {
		t.Fatalf("page %+v", page)
	}
	if v := c.visit(first); v.State != "authenticated" || !v.Verified || v.IdentityID == nil || *v.IdentityID != identityID {
		t.Fatalf("first visit %+v", v)
	}
	sessions := s.sessions(first)
	if len(sessions) != 2 || sessions[0].IdentityID != nil || sessions[1].SessionID != signIn.SessionID ||
		sessions[1].IdentityID == nil || *sessions[1].IdentityID != identityID || !sessions[1].Verified {
		t.Fatalf("first visit's sessions %+v", sessions)
	}
	var found list[collector.Identity]
	c.getJSON("/v1/identities?userId="+storyUser, &found)
	if len(found.Items) != 1 || found.Items[0].IdentityID != identityID {
		t.Fatalf("identities of %s: %+v", storyUser, found.Items)
	}

	// 5. The visit times out: the collector ends it.
	s.waitFor("the first visit to time out", func() bool { return c.visit(first).EndedAt != nil }, nil)
	t.Logf("the first visit ended %.1f s after the visitor left", time.Since(left).Seconds())
	if evs := c.events(first); evs[len(evs)-1].Name != "VisitEnded" {
		t.Fatalf("first visit's events after the timeout %s", names(evs))
	}

	// 6. Back on the site: a new visit, recognized and verified.
	back := s.open("/shop/again")
	if back.VisitID == first || back.VisitorID != anon.VisitorID || back.State != "recognized" ||
		!back.Verified || back.IdentityID == nil || *back.IdentityID != identityID {
		t.Fatalf("back after the timeout %+v (first visit %+v)", back, signedIn)
	}

	// 7. SignOut: the rest of the visit is anonymous, on the next page too.
	s.eval(`visitrack.signOut().then(() => true)`, new(bool))
	out := s.waitIDs("the sign-out", func(i ids) bool { return i.State != "recognized" })
	if out.State != "anonymous" || out.Verified || out.IdentityID != nil || out.VisitID != back.VisitID {
		t.Fatalf("after signOut %+v", out)
	}
	s.follow(s.site + "/shop/next")
	next := s.welcomed("/shop/next")
	if next.VisitID != back.VisitID || next.State != "anonymous" || next.Verified || next.IdentityID != nil {
		t.Fatalf("the page after SignOut %+v (visit %s)", next, back.VisitID)
	}

	// What the second visit stored.
	evs = s.waitEvents(back.VisitID, "the second page", func(evs []collector.Event) bool {
		return count(evs, "PageEntered") == 2 && count(evs, "PageExited") == 1
	})
	if got := names(evs); got != "VisitStarted,PageEntered,UserInfo,SignOut,PageExited,PageEntered" {
		t.Fatalf("second visit's events %s", got)
	}
	if ui := evs[2]; ui.IdentityID == nil || *ui.IdentityID != identityID {
		t.Fatalf("UserInfo %+v", ui)
	}
	if v := c.visit(back.VisitID); v.VisitorID != anon.VisitorID || v.StartedAt.Before(*c.visit(first).EndedAt) {
		t.Fatalf("second visit %+v", v)
	}
	sessions = s.sessions(back.VisitID)
	if len(sessions) < 2 {
		t.Fatalf("second visit's sessions %+v", sessions)
	}
	rec, last := sessions[len(sessions)-2], sessions[len(sessions)-1]
	if rec.State != "recognized" || !rec.Verified || rec.IdentityID == nil || *rec.IdentityID != identityID || rec.EndedAt == nil {
		t.Fatalf("the recognized session %+v", rec)
	}
	if last.IdentityID != nil || last.Verified || last.EndedAt != nil || last.SessionID != evs[5].SessionID {
		t.Fatalf("the session after SignOut %+v", last)
	}
	// Both visits are the identity's, and only they: the second page
	// re-posts the first page's PageExited (a beacon is never acked) with
	// the ended visit's id, which the collector files in that ended visit
	// (a late delivery) without opening a third one.
	var visits list[collector.Visit]
	c.getJSON("/v1/identities/"+identityID+"/visits", &visits)
	if len(visits.Items) != 2 || !hasVisit(visits.Items, first) || !hasVisit(visits.Items, back.VisitID) {
		t.Fatalf("the identity's visits %+v", visits.Items)
	}
}

func hasVisit(vs []collector.Visit, id string) bool {
	for _, v := range vs {
		if v.VisitID == id {
			return true
		}
	}
	return false
}

// storySite serves the site's pages (any path) on another loopback port:
// another origin on the collector's host. Each page embeds the tracker with
// the snippet of docs/tracker.md#embedding and the configuration's settings.
func storySite(t *testing.T, collectorURL func() string, tracker string) string {
	t.Helper()
	minutes := storyVisitTimeout.Minutes()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Shop %[3]s</title>
<script>
  window._gt = window._gt || [];
  _gt.push(['config', Object.assign({collector: '%[1]s', visitTimeoutMinutes: %[2]g}, %[4]s)]);
</script>
<script async src="%[1]s/gt.js"></script>
</head><body><h1>%[3]s</h1></body></html>`, collectorURL(), minutes, r.URL.Path, tracker)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// startStoryEngine starts an engine with a fresh directory and ends it
// with the test. The browser's output shows with VISITRACK_TEST_LOG=1,
// and its tail when the test fails.
func startStoryEngine(t *testing.T, start StartEngine) Engine {
	t.Helper()
	// Not t.TempDir: a browser's helpers may still write in it while it is
	// removed, which would fail the test.
	dir, err := os.MkdirTemp("", "visitrack-engine-")
	if err != nil {
		t.Fatal(err)
	}
	log := &engineLog{t: t}
	t.Cleanup(func() {
		log.end()
		for i := 0; i < 20 && os.RemoveAll(dir) != nil; i++ {
			time.Sleep(100 * time.Millisecond)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	began := time.Now()
	eng, err := start(ctx, EngineOptions{Dir: dir, Log: log})
	if err != nil {
		t.Fatalf("start the browser: %v", err)
	}
	t.Logf("%s started in %.1f s", eng.Name(), time.Since(began).Seconds())
	t.Cleanup(func() { eng.Close() })
	return eng
}

// engineLog keeps the browser's output for the test log; writes that come
// after the test ended (a process draining its pipe) are dropped.
type engineLog struct {
	t    *testing.T
	mu   sync.Mutex
	tail []byte
	done bool
}

func (l *engineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return len(p), nil
	}
	if os.Getenv("VISITRACK_TEST_LOG") != "" {
		l.t.Logf("browser: %s", strings.TrimRight(string(p), "\n"))
	}
	l.tail = append(l.tail, p...)
	if n := len(l.tail) - 8<<10; n > 0 {
		l.tail = l.tail[n:]
	}
	return len(p), nil
}

func (l *engineLog) end() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.t.Failed() && os.Getenv("VISITRACK_TEST_LOG") == "" {
		l.t.Logf("the browser's last output:\n%s", l.tail)
	}
	l.done = true
}

// story is one run of the identity story: an engine, a collector, a site.
type story struct {
	t    *testing.T
	eng  Engine
	c    *collectorProc
	site string
}

func (s *story) navigate(url string) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	if err := s.eng.Navigate(ctx, url); err != nil {
		s.t.Fatalf("%s: navigate to %s: %v", s.eng.Name(), url, err)
	}
}

// eval evaluates expr in the page (awaiting a promise) into out.
func (s *story) eval(expr string, out any) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), storyWait)
	defer cancel()
	got, err := s.eng.Eval(ctx, expr)
	if err != nil {
		s.t.Fatalf("%s: %v", s.eng.Name(), err)
	}
	if err := json.Unmarshal([]byte(got), out); err != nil {
		s.t.Fatalf("%s: %s gave %s: %v", s.eng.Name(), expr, got, err)
	}
}

// waitFor polls cond until it holds; seen (may be nil) tells what was
// there instead when it times out.
func (s *story) waitFor(what string, cond func() bool, seen func() string) {
	s.t.Helper()
	deadline := time.Now().Add(storyWait)
	for !cond() {
		if time.Now().After(deadline) {
			instead := ""
			if seen != nil {
				instead = "; seen: " + seen()
			}
			s.t.Fatalf("%s: timed out after %s waiting for %s%s", s.eng.Name(), storyWait, what, instead)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitPage polls a boolean expression in the page.
func (s *story) waitPage(what, expr string) {
	s.t.Helper()
	s.waitFor(what, func() bool {
		var ok bool
		s.eval(expr, &ok)
		return ok
	}, nil)
}

// open loads a page of the site as a visitor who types its address, and
// waits for the collector's welcome.
func (s *story) open(path string) ids {
	s.t.Helper()
	s.navigate(s.site + path)
	return s.welcomed(path)
}

// welcomed waits for the collector's welcome of the page's tracker, so
// that ids() carry what the collector settled on.
func (s *story) welcomed(path string) ids {
	s.t.Helper()
	s.waitPage("the welcome on "+path, `window.visitrack ? visitrack.stats().then(s => s.transport === 'websocket') : false`)
	return s.ids()
}

// follow leaves the page for url as a visitor does by following a link:
// the page navigates itself. A navigation ordered by the browser would
// not do here: Firefox cancels the running script of a page that the
// browser navigates elsewhere, and on a loaded machine the tracker is
// often running (its callbacks take milliseconds, stretched tenfold),
// which would kill it before its pagehide handler sends PageExited.
func (s *story) follow(url string) {
	s.t.Helper()
	s.eval(fmt.Sprintf(`setTimeout(() => { location.href = %q }, 0), true`, url), new(bool))
	want, _ := json.Marshal(url)
	var last string
	s.waitFor("the page to reach "+url, func() bool {
		// While the page changes, an evaluation may fail (its realm is
		// gone): try again.
		ctx, cancel := context.WithTimeout(context.Background(), storyWait)
		defer cancel()
		got, err := s.eng.Eval(ctx, `document.readyState === 'complete' && location.href`)
		last = fmt.Sprint(got, err)
		return err == nil && got == string(want)
	}, func() string { return last })
}

func (s *story) ids() ids {
	s.t.Helper()
	var v ids
	s.eval(`visitrack.ids()`, &v)
	return v
}

// waitIDs polls ids() until cond holds, and returns them.
func (s *story) waitIDs(what string, cond func(ids) bool) ids {
	s.t.Helper()
	var v ids
	s.waitFor(what+" in ids()", func() bool {
		v = s.ids()
		return cond(v)
	}, func() string { return fmt.Sprintf("%+v", v) })
	return v
}

// waitEvents polls the visit's events in the History API until cond holds.
func (s *story) waitEvents(visitID, what string, cond func([]collector.Event) bool) []collector.Event {
	s.t.Helper()
	var evs []collector.Event
	s.waitFor(what+" in visit "+visitID, func() bool {
		if status, _ := s.c.get("/v1/visits/" + visitID); status != http.StatusOK {
			return false
		}
		evs = s.c.events(visitID)
		return cond(evs)
	}, func() string { return names(evs) })
	return evs
}

func (s *story) sessions(visitID string) []collector.Session {
	s.t.Helper()
	var l list[collector.Session]
	s.c.getJSON("/v1/visits/"+visitID+"/sessions", &l)
	return l.Items
}
