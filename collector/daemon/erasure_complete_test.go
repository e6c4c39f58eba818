package daemon_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/shared/protocol"
)

// browser is one browser of a test person on a real collector.
type browser struct {
	visitorID, visitorKey, visitID string
}

// signIn opens a visit on a new browser that lands on landing from
// referrer, and signs userID in with a proof; it returns the browser and
// the identity.
func signIn(t *testing.T, col *collectortest.Collector, userID, landing, referrer string) (*browser, string) {
	t.Helper()
	page := collectortest.NewID()
	entered := collectortest.Event(protocol.EventPageEntered, page, nil)
	entered.URL, entered.Referrer = landing, referrer
	proof := collectortest.Event(protocol.EventSignIn, page, map[string]string{
		"userId": userID, "userHash": identity.UserHash(testSecret, userID)})
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect",
		protocol.CollectRequest{Events: []protocol.Event{entered, proof}})
	if status != http.StatusOK {
		t.Fatalf("collect: %d %s", status, b)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Identity == nil || res.Identity.IdentityID == nil || !res.Identity.Verified {
		t.Fatalf("SignIn of %s was not verified: %s", userID, b)
	}
	return &browser{visitorID: res.VisitorID, visitorKey: res.VisitorKey, visitID: res.VisitID}, *res.Identity.IdentityID
}

// touches reads an identity's firstTouch and lastTouch landing URLs from
// the REST API ("" for a null touch).
func touches(t *testing.T, col *collectortest.Collector, identityID string) (first, last string) {
	t.Helper()
	var ident struct {
		FirstTouch, LastTouch *struct {
			LandingURL string `json:"landingUrl"`
		}
	}
	col.Get("/v1/identities/"+identityID, &ident)
	if ident.FirstTouch != nil {
		first = ident.FirstTouch.LandingURL
	}
	if ident.LastTouch != nil {
		last = ident.LastTouch.LandingURL
	}
	return first, last
}

// touchMarkers are the strings of a visit that a touch copies: landing
// URL, referrer and campaign.
func touchMarkers(tag string) (landing, referrer string, markers map[string]string) {
	landing = "https://shop.example/landing-" + tag + "?utm_source=source-" + tag + "&utm_campaign=campaign-" + tag
	referrer = "https://referrer-" + tag + ".example/"
	return landing, referrer, map[string]string{"landing URL": "landing-" + tag, "referrer": "referrer-" + tag,
		"UTM source": "source-" + tag, "UTM campaign": "campaign-" + tag}
}

// TestVisitorErasureRecomputesTouches: an identity's firstTouch copies the
// landing URL, referrer and campaign of its first visit. Erasing that
// visit's browser takes the copy too: the API shows the touch of the
// visit that remains, and the strings are gone from the database and its
// WAL. Erasing the last browser leaves no touch.
func TestVisitorErasureRecomputesTouches(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--identity-secret", testSecret, "--rate-limit", "0")
	erasedLanding, erasedRef, erased := touchMarkers("erased")
	keptLanding, keptRef, kept := touchMarkers("kept")
	first, id := signIn(t, col, "toucher@example.com", erasedLanding, erasedRef)
	second, id2 := signIn(t, col, "toucher@example.com", keptLanding, keptRef)
	if id2 != id {
		t.Fatalf("the second SignIn made identity %s, not %s", id2, id)
	}
	if f, l := touches(t, col, id); f != erasedLanding || l != keptLanding {
		t.Fatalf("touches before the erasure: %q, %q", f, l)
	}
	if found := scan(t, dir, erased); len(found) == 0 {
		t.Fatal("the first visit's strings were never written: the scan proves nothing")
	}

	if status, b := col.Do("DELETE", "/v1/visitors/"+first.visitorID, nil); status != http.StatusNoContent {
		t.Fatalf("erase the first browser: %d %s", status, b)
	}
	if f, l := touches(t, col, id); f != keptLanding || l != keptLanding {
		t.Errorf("touches after erasing the first browser: %q, %q; want both from the remaining visit", f, l)
	}
	if found := scan(t, dir, erased); len(found) > 0 {
		t.Errorf("after erasing the first browser: %s", strings.Join(found, "; "))
	}

	if status, b := col.Do("DELETE", "/v1/visitors/"+second.visitorID, nil); status != http.StatusNoContent {
		t.Fatalf("erase the second browser: %d %s", status, b)
	}
	if f, l := touches(t, col, id); f != "" || l != "" {
		t.Errorf("touches after erasing both browsers: %q, %q; want none", f, l)
	}
	col.Stop()
	for _, m := range []map[string]string{erased, kept} {
		if found := scan(t, dir, m); len(found) > 0 {
			t.Errorf("after shutdown: %s", strings.Join(found, "; "))
		}
	}
}

// TestRetentionRecomputesTouches: retention deletes the visit an
// identity's firstTouch was copied from; the touch becomes the remaining
// visit's, and the expired visit's landing URL, referrer and campaign
// leave the database file.
func TestRetentionRecomputesTouches(t *testing.T) {
	dir := t.TempDir()
	flags := []string{"--identity-secret", testSecret, "--rate-limit", "0"}
	col := collectortest.StartIn(t, dir, flags...)
	oldLanding, oldRef, old := touchMarkers("expired")
	newLanding, newRef, _ := touchMarkers("recent")
	expired, id := signIn(t, col, "retained@example.com", oldLanding, oldRef)
	signIn(t, col, "retained@example.com", newLanding, newRef)
	if f, l := touches(t, col, id); f != oldLanding || l != newLanding {
		t.Fatalf("touches before retention: %q, %q", f, l)
	}
	col.Stop()

	// The first visit ended ten days ago (only its end: the touch was
	// copied from its start, which stays as it was).
	db, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE visits SET ended_at = ? WHERE visit_id = ?`,
		time.Now().Add(-10*24*time.Hour).UnixMilli(), expired.visitID); err != nil {
		t.Fatal(err)
	}
	db.Close()

	col = collectortest.StartIn(t, dir, append(flags, "--retention", "1h")...)
	waitFor(t, "the expired visit to be deleted", func() bool {
		status, _ := col.Do("GET", "/v1/visits/"+expired.visitID, nil)
		return status == http.StatusNotFound
	})
	if f, l := touches(t, col, id); f != newLanding || l != newLanding {
		t.Errorf("touches after retention: %q, %q; want both from the remaining visit", f, l)
	}
	col.Stop()
	if found := scan(t, dir, old); len(found) > 0 {
		t.Errorf("after retention and shutdown: %s", strings.Join(found, "; "))
	}
}

// target is a webhook receiver on a fixed loopback address that can be
// down (nothing listens: every attempt fails before a byte of the body
// leaves the collector) and brought up later; it keeps every body it
// received.
type target struct {
	addr string
	srv  *http.Server
	mu   sync.Mutex
	got  [][]byte
}

func newTarget(t *testing.T) *target {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return &target{addr: addr}
}

func (tg *target) url() string { return "http://" + tg.addr + "/hook" }

// up starts listening; from now on every delivery is accepted.
func (tg *target) up(t *testing.T) {
	t.Helper()
	l, err := net.Listen("tcp", tg.addr)
	if err != nil {
		t.Fatalf("bring the webhook target up on %s: %v", tg.addr, err)
	}
	tg.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		tg.mu.Lock()
		tg.got = append(tg.got, b)
		tg.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})}
	go tg.srv.Serve(l)
	t.Cleanup(func() { tg.srv.Close() })
}

// received returns the bodies received so far that contain marker.
func (tg *target) received(marker string) int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	n := 0
	for _, b := range tg.got {
		if bytes.Contains(b, []byte(marker)) {
			n++
		}
	}
	return n
}

// TestErasureTakesMergedAwayDeliveries: Carol is merged into Bob, Bob
// into Alice. Their visitor data was announced to a webhook whose target
// is down, so the visitorData.changed deliveries, each with a copy of a
// document, are pending. DELETE /v1/identities/{Alice} takes Bob's and
// Carol's copies with Alice's: none is left in the outbox, none reaches
// the target once it is up, and nothing of them is left in the files;
// Kate, never merged, gets her delivery.
func TestErasureTakesMergedAwayDeliveries(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--identity-secret", testSecret, "--rate-limit", "0", "--webhook-allow-private")
	tg := newTarget(t)
	if status, b := col.Do("POST", "/v1/webhooks", map[string]any{"url": tg.url(), "events": []string{"visitorData.changed"}}); status != http.StatusCreated {
		t.Fatalf("register a webhook: %d %s", status, b)
	}
	ids := map[string]string{}
	for _, name := range []string{"alice", "bob", "carol", "kate"} {
		_, ids[name] = signIn(t, col, name+"@example.com", "https://shop.example/", "")
		path := "/v1/identities/" + ids[name] + "/visitor-data/notes_" + name
		if status, b := col.Do("PATCH", path, fmt.Sprintf(`{"secret":"document-of-%s"}`, name),
			"Content-Type", "application/merge-patch+json"); status != http.StatusOK {
			t.Fatalf("PATCH %s: %d %s", path, status, b)
		}
	}
	reader, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for _, name := range []string{"bob", "carol", "kate"} {
		if n := pendingCopies(t, reader, "document-of-"+name); n != 1 {
			t.Fatalf("%d pending deliveries hold %s's document, want 1", n, name)
		}
	}
	for _, m := range [][2]string{{"bob", "carol"}, {"alice", "bob"}} {
		if status, b := col.Do("POST", "/v1/identities/"+ids[m[0]]+"/merge", map[string]string{"from": ids[m[1]]}); status != http.StatusOK {
			t.Fatalf("merge %s into %s: %d %s", m[1], m[0], status, b)
		}
	}
	if n := pendingCopies(t, reader, "document-of-carol"); n != 1 {
		t.Fatalf("after the merges, %d pending deliveries hold Carol's document: the test does not cover them", n)
	}

	if status, b := col.Do("DELETE", "/v1/identities/"+ids["alice"], nil); status != http.StatusNoContent {
		t.Fatalf("erase Alice: %d %s", status, b)
	}
	for _, name := range []string{"alice", "bob", "carol"} {
		var n int
		if err := reader.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE instr(body, ?) > 0 OR instr(body, ?) > 0`,
			"document-of-"+name, "identity:"+ids[name]).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("after erasing Alice, %d deliveries name %s or hold a copy of her document", n, name)
		}
	}

	// The target comes up: the worker's next attempts deliver what is
	// left, Kate's copy, and nothing else.
	tg.up(t)
	waitFor(t, "Kate's delivery", func() bool { return tg.received("document-of-kate") == 1 })
	waitFor(t, "the outbox to drain", func() bool {
		var n int
		return reader.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE next_at IS NOT NULL`).Scan(&n) == nil && n == 0
	})
	for _, name := range []string{"alice", "bob", "carol"} {
		if n := tg.received("document-of-" + name); n != 0 {
			t.Errorf("%d deliveries with %s's document reached the target after the erasure", n, name)
		}
	}
	reader.Close()
	col.Stop()
	for _, name := range []string{"bob", "carol"} {
		if found := scan(t, dir, map[string]string{"document": "document-of-" + name, "userId": name + "@example.com"}); len(found) > 0 {
			t.Errorf("after shutdown: %s", strings.Join(found, "; "))
		}
	}
}
