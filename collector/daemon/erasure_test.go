package daemon_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/shared/protocol"
)

// person is one browser seeded through the real /v1/collect with strings
// found nowhere else, so that a byte scan of the database files can tell
// whether anything of it is left.
type person struct {
	userID, data, url, title, ua, ip string
	visitorID, visitID, identityID   string
	visitorKey                       string // the browser key the collector issued
}

func newPerson(tag string) *person {
	return &person{
		userID:    "userid-" + tag + "@example.com",
		data:      "eventdata-" + tag,
		url:       "https://shop.example/url-" + tag,
		title:     "title-" + tag,
		ua:        "Agent-" + tag + "/1.0",
		ip:        map[string]string{"erased": "203.0.113.77", "anon": "203.0.113.88", "kept": "198.51.100.23"}[tag],
		visitorID: collectortest.NewID(),
		visitID:   collectortest.NewID(),
	}
}

// markers are the strings that must leave the disk with the person.
func (p *person) markers() map[string]string {
	m := map[string]string{"event data": p.data, "URL": p.url, "title": p.title, "user agent": p.ua, "IP": p.ip}
	if p.identityID != "" {
		m["userId"] = p.userID
	}
	return m
}

// collect posts events as p's browser, from p's address (X-Forwarded-For
// through the trusted loopback proxy) with p's user agent.
func (p *person) collect(t *testing.T, col *collectortest.Collector, events ...protocol.Event) protocol.CollectResponse {
	t.Helper()
	body := protocol.CollectRequest{VisitorID: p.visitorID, VisitID: p.visitID, VisitorKey: p.visitorKey, Events: events}
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body,
		"User-Agent", p.ua, "X-Forwarded-For", p.ip)
	if status != 200 {
		t.Fatalf("collect: %d %s", status, b)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	p.visitorID, p.visitID = res.VisitorID, res.VisitID
	if res.VisitorKey != "" {
		p.visitorKey = res.VisitorKey
	}
	return res
}

// seed stores a few hundred events (enough to fill whole pages of the
// events table and its index, which the erasure then frees), a page
// view, visitor data and visit metadata; with signIn a verified SignIn
// first.
func (p *person) seed(t *testing.T, col *collectortest.Collector, signIn bool) {
	t.Helper()
	page := collectortest.NewID()
	entered := collectortest.Event("PageEntered", page, nil)
	entered.URL, entered.Title = p.url, p.title
	first := []protocol.Event{entered}
	if signIn {
		first = append(first, collectortest.Event("SignIn", page, map[string]string{
			"userId": p.userID, "userHash": identity.UserHash(testSecret, p.userID)}))
	}
	res := p.collect(t, col, first...)
	if signIn {
		if res.Identity == nil || res.Identity.IdentityID == nil || !res.Identity.Verified {
			t.Fatalf("SignIn was not verified: %+v", res.Identity)
		}
		p.identityID = *res.Identity.IdentityID
	}
	for b := 0; b < 6; b++ {
		evs := make([]protocol.Event, 50)
		for i := range evs {
			evs[i] = collectortest.Event("Browse", page, map[string]any{"note": p.data, "i": i})
			evs[i].URL = p.url
		}
		p.collect(t, col, evs...)
	}
	subject := "/v1/visitors/" + p.visitorID
	if p.identityID != "" {
		subject = "/v1/identities/" + p.identityID
	}
	patch := func(path, body string) {
		t.Helper()
		if status, b := col.Do("PATCH", path, body, "Content-Type", "application/merge-patch+json"); status != 200 {
			t.Fatalf("PATCH %s: %d %s", path, status, b)
		}
	}
	patch(subject+"/visitor-data/crm", fmt.Sprintf(`{"note":%q}`, p.data))
	patch("/v1/visits/"+p.visitID+"/metadata", fmt.Sprintf(`{"note":%q}`, p.data))
}

const testSecret = "erasure-test-identity-secret"

// scan returns, of markers, those found in the bytes of the database and
// its WAL.
func scan(t *testing.T, dataDir string, markers map[string]string) []string {
	t.Helper()
	var found []string
	for _, name := range []string{"visitrack.db", "visitrack.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dataDir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for what, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				found = append(found, fmt.Sprintf("%s %q in %s", what, m, name))
			}
		}
	}
	return found
}

// pendingCopies counts the pending webhook deliveries whose body holds
// marker (a visitorData.changed delivery keeps a copy of the document),
// read beside the running collector (WAL readers do not block it).
func pendingCopies(t *testing.T, db *sql.DB, marker string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM webhook_deliveries
		WHERE next_at IS NOT NULL AND instr(body, ?) > 0`, marker).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestErasureIsPhysical (docs/security.md#erasure): after DELETE /v1/identities/{id} and
// DELETE /v1/visitors/{id}, nothing of the erased person can be found in
// visitrack.db or its WAL with a byte scan: not in live pages, not in
// the free space of pages, not on freelist pages, not in index entries,
// not in old WAL frames, not in webhook deliveries still waiting to be
// sent. Another person's strings are still there, which shows that the
// scan sees what is stored.
func TestErasureIsPhysical(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--trusted-proxies", "127.0.0.1/32", "--identity-secret", testSecret, "--rate-limit", "0",
		"--webhook-allow-private")
	// A receiver that always fails keeps the deliveries pending: each
	// visitorData.changed one holds a copy of a person's document, each
	// SignIn one the id of the person's event.
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer rcv.Close()
	if status, b := col.Do("POST", "/v1/webhooks", `{"url":"`+rcv.URL+`/hook","events":["visitorData.changed","SignIn"]}`); status != 201 {
		t.Fatalf("register a webhook: %d %s", status, b)
	}
	erased, anon, kept := newPerson("erased"), newPerson("anon"), newPerson("kept")
	kept.seed(t, col, true)
	erased.seed(t, col, true)
	anon.seed(t, col, false)
	kept.collect(t, col, collectortest.Event("Browse", "", map[string]string{"note": kept.data}))

	if found := scan(t, dir, erased.markers()); len(found) == 0 {
		t.Fatal("the erased person's strings were never written: the scan proves nothing")
	}
	reader, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	for _, p := range []*person{erased, anon, kept} {
		if n := pendingCopies(t, reader, p.data); n == 0 {
			t.Fatalf("no pending delivery holds %q: the test does not cover the outbox", p.data)
		}
	}
	var signIns int
	if err := reader.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE type = 'SignIn' AND next_at IS NOT NULL`).Scan(&signIns); err != nil || signIns != 2 {
		t.Fatalf("%d pending SignIn deliveries (%v), want 2", signIns, err)
	}
	if status, b := col.Do("DELETE", "/v1/identities/"+erased.identityID, nil); status != 204 {
		t.Fatalf("erase identity: %d %s", status, b)
	}
	if status, b := col.Do("DELETE", "/v1/visitors/"+anon.visitorID, nil); status != 204 {
		t.Fatalf("erase visitor: %d %s", status, b)
	}
	// While the collector runs: the erasure checkpointed, so the WAL holds
	// no old frame with the erased rows.
	if found := scan(t, dir, erased.markers()); len(found) > 0 {
		t.Errorf("while running, after erasing the identity: %s", strings.Join(found, "; "))
	}
	if found := scan(t, dir, anon.markers()); len(found) > 0 {
		t.Errorf("while running, after erasing the visitor: %s", strings.Join(found, "; "))
	}
	// The outbox no longer names the erased person's SignIn; the kept
	// person's deliveries are still pending.
	if err := reader.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE type = 'SignIn'`).Scan(&signIns); err != nil || signIns != 1 {
		t.Errorf("%d SignIn deliveries after the erasure (%v), want the kept person's 1", signIns, err)
	}
	if n := pendingCopies(t, reader, kept.data); n == 0 {
		t.Error("the kept person's pending delivery went with the erasure")
	}
	reader.Close()

	col.Stop()
	if found := scan(t, dir, erased.markers()); len(found) > 0 {
		t.Errorf("after shutdown, erased identity: %s", strings.Join(found, "; "))
	}
	if found := scan(t, dir, anon.markers()); len(found) > 0 {
		t.Errorf("after shutdown, erased visitor: %s", strings.Join(found, "; "))
	}
	if found := scan(t, dir, kept.markers()); len(found) != len(kept.markers()) {
		t.Errorf("the person who was not erased: found only %v", found)
	}

	// The erasure freed whole pages: the scan above covered freelist pages.
	db, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var free int
	if err := db.QueryRowContext(context.Background(), "PRAGMA freelist_count").Scan(&free); err != nil {
		t.Fatal(err)
	}
	if free == 0 {
		t.Error("the erasure freed no page: the test does not cover freelist pages")
	}
}
