package postgres_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"sync"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// browser is one page's tracker: its WebSocket on one node, its beacons
// (/v1/collect) on another, both naming the same visit.
type browser struct {
	ws                           *collectortest.Client
	visitorID, visitorKey, visit string
	sent                         []string // every event id it sent
	pages                        []string
}

// beacon posts events of the browser's visit to the node, as a page's
// exit beacon does, and requires that all of them are acknowledged in the
// visit it names.
func (br *browser) beacon(t *testing.T, nd *node, events ...protocol.Event) {
	t.Helper()
	status, b := collectortest.Request(t, nd.URL(), "", "POST", "/v1/collect",
		protocol.CollectRequest{VisitorID: br.visitorID, VisitorKey: br.visitorKey, VisitID: br.visit, Events: events},
		"Origin", collectortest.Origin)
	var res protocol.CollectResponse
	if status != http.StatusOK || json.Unmarshal(b, &res) != nil || len(res.Ack.EventIDs) != len(events) || res.VisitID != br.visit {
		t.Errorf("beacon on %s: %d %s", nd.Addr(), status, b)
	}
}

// send sends events over the browser's WebSocket and requires that all of
// them are acknowledged.
func (br *browser) send(t *testing.T, identity bool, events ...protocol.Event) *protocol.Identity {
	t.Helper()
	ack, id := br.ws.SendEvents(identity, events...)
	if len(ack.EventIDs) != len(events) {
		t.Errorf("ack %+v of %d events", ack, len(events))
	}
	return id
}

// Two nodes write the same visits at the same moment: each page's
// WebSocket on node A, its exit beacons on node B, with event ids sent to
// both, and a SignIn on A while the beacons flow on B. Every event is
// acknowledged, stored once in the browser's one visit, and counted once:
// in its visit's event count, in every level of the rollups, and on the
// one page its pageId names; every visit has one open session, its
// current one.
func TestConcurrentWritersExact(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nodes := startNodes(t, url, 2, nil, "--rate-limit", "0")
	a, b := nodes[0], nodes[1]

	const browsers, rounds = 4, 25
	brs := make([]*browser, browsers)
	for i := range brs {
		ws := collectortest.Dial(t, "ws://"+a.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		w := ws.Welcome
		brs[i] = &browser{ws: ws, visitorID: w.VisitorID, visitorKey: w.VisitorKey, visit: w.VisitID}
	}
	var wg sync.WaitGroup
	for i, br := range brs {
		pages := make([]string, rounds)
		for r := range pages {
			pages[r] = collectortest.NewID()
		}
		br.pages = pages
		shared := make([][]protocol.Event, rounds) // sent on both nodes
		for r := range shared {
			shared[r] = []protocol.Event{collectortest.Event("Click", pages[r], map[string]any{"round": r})}
			br.sent = append(br.sent, shared[r][0].EventID)
		}
		onA := make([][]protocol.Event, rounds)
		onB := make([][]protocol.Event, rounds)
		for r := range rounds {
			entered := collectortest.Event(protocol.EventPageEntered, pages[r], nil)
			entered.URL = "https://shop.example/p/" + string(rune('a'+r%5)) + "?round=" + pages[r]
			exited := collectortest.Event(protocol.EventPageExited, pages[r], map[string]any{"durationMs": 1000})
			view := collectortest.Event("ViewItem", pages[r], nil)
			onA[r] = append([]protocol.Event{entered, view}, shared[r]...)
			onB[r] = append([]protocol.Event{exited}, shared[r]...)
			br.sent = append(br.sent, entered.EventID, exited.EventID, view.EventID)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for r := range rounds {
				br.send(t, false, onA[r]...)
				if i == 0 && r == rounds/2 {
					// A sign-in on A while B files this visit's beacons.
					in := collectortest.Event(protocol.EventSignIn, pages[r], map[string]any{"userId": "hedy@example.com"})
					if id := br.send(t, true, in); id == nil || id.State != protocol.StateAuthenticated {
						t.Errorf("SignIn answered %+v", id)
					}
					br.sent = append(br.sent, in.EventID)
				}
			}
		}()
		go func() {
			defer wg.Done()
			for r := range rounds {
				br.beacon(t, b, onB[r]...)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// After a sign-in committed on A, B files the visit's next events
	// with the visit's new identity and session, not a copy it read before.
	br := brs[1]
	in := collectortest.Event(protocol.EventSignIn, br.pages[0], map[string]any{"userId": "lin@example.com"})
	if id := br.send(t, true, in); id == nil || id.State != protocol.StateAuthenticated {
		t.Fatalf("SignIn answered %+v", id)
	}
	click := collectortest.Event("Click", br.pages[0], nil)
	br.beacon(t, b, click)
	br.sent = append(br.sent, in.EventID, click.EventID)
	db := openDB(t, url)
	var identityID, want, session, current sql.NullString
	if err := db.QueryRow(`SELECT e.identity_id, i.identity_id, e.session_id, v.session_id FROM events e
		JOIN visits v ON v.visit_id = e.visit_id LEFT JOIN identities i ON i.user_id = 'lin@example.com'
		WHERE e.event_id = $1`, click.EventID).Scan(&identityID, &want, &session, &current); err != nil {
		t.Fatal(err)
	}
	if !want.Valid || identityID != want || session != current {
		t.Errorf("node B filed an event after a sign-in on A with identity %v, session %v; want identity %v, the visit's session %v",
			identityID.String, session.String, want.String, current.String)
	}

	exact(t, db, brs)
}

// exact checks what TestConcurrentWritersExact stored against what the
// browsers sent, and the counts against the rows they count.
func exact(t *testing.T, db *sql.DB, brs []*browser) {
	t.Helper()
	one := func(what, query string, args ...any) int64 {
		t.Helper()
		var n int64
		if err := db.QueryRow(query, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return n
	}
	for _, br := range brs {
		if n := one("stored", `SELECT count(*) FROM events WHERE event_id = ANY($1)`, br.sent); n != int64(len(br.sent)) {
			t.Errorf("visit %s: %d of the %d events sent are stored", br.visit, n, len(br.sent))
		}
		if n := one("visits", `SELECT count(DISTINCT visit_id) FROM events WHERE event_id = ANY($1) AND visit_id <> $2`,
			br.sent, br.visit); n != 0 {
			t.Errorf("visit %s: events filed in %d other visits", br.visit, n)
		}
		if n := one("pages", `SELECT count(*) FROM pages WHERE page_id = ANY($1) AND visit_id = $2
			AND exited_at IS NOT NULL`, br.pages, br.visit); n != int64(len(br.pages)) {
			t.Errorf("visit %s: %d of its %d pages stored with their entry and exit", br.visit, n, len(br.pages))
		}
	}
	checks := map[string]string{
		"visits whose event_count is not their events'": `SELECT count(*) FROM visits v
			WHERE event_count <> (SELECT count(*) FROM events e WHERE e.visit_id = v.visit_id)`,
		"events of a page another visit owns": `SELECT count(*) FROM events e JOIN pages p ON p.page_id = e.page_id
			WHERE e.page_id <> '' AND p.visit_id <> e.visit_id`,
		"rollup rows (level, name) that are not the events' count": `SELECT count(*) FROM (
			SELECT l.size, e.name, count(*) AS n FROM events e,
				(VALUES (60000), (3600000), (86400000)) AS l(size) GROUP BY 1, 2) want
			FULL JOIN (SELECT level, name, sum(n) AS n FROM stats_events GROUP BY 1, 2) got
				ON got.level = want.size AND got.name = want.name
			WHERE got.n IS DISTINCT FROM want.n`,
		"page rollup rows (level, url) that are not the page views' count": `SELECT count(*) FROM (
			SELECT l.size, split_part(split_part(e.url, '?', 1), '#', 1) AS url, count(*) AS n FROM events e,
				(VALUES (60000), (3600000), (86400000)) AS l(size) WHERE e.name = 'PageEntered' GROUP BY 1, 2) want
			FULL JOIN (SELECT level, url, sum(n) AS n FROM stats_pages GROUP BY 1, 2) got
				ON got.level = want.size AND got.url = want.url
			WHERE got.n IS DISTINCT FROM want.n`,
		"visits without exactly one open session, their current one": `SELECT count(*) FROM visits v
			WHERE (SELECT count(*) FROM sessions s WHERE s.visit_id = v.visit_id AND s.ended_at IS NULL) <> 1
			OR NOT EXISTS (SELECT 1 FROM sessions s WHERE s.session_id = v.session_id AND s.ended_at IS NULL
				AND s.state = v.state AND s.identity_id IS NOT DISTINCT FROM v.identity_id)`,
		"events in a session of another visit": `SELECT count(*) FROM events e JOIN sessions s ON s.session_id = e.session_id
			WHERE s.visit_id <> e.visit_id`,
	}
	for what, query := range checks {
		if n := one(what, query); n != 0 {
			t.Errorf("%d %s", n, what)
		}
	}
	if n := one("visits", `SELECT count(*) FROM visits`); n != int64(len(brs)) {
		t.Errorf("%d visits stored for %d browsers", n, len(brs))
	}
}

// A writer's transaction that PostgreSQL fails for a deadlock with
// another transaction (here a session of the test's that holds a rollup
// row the writer adds to, then waits for an event the writer inserted)
// runs again once the other is gone: the events are acknowledged, stored
// once and counted once, and the client never sees the collision.
func TestDeadlockedWriterRunsAgain(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nd := startNodes(t, url, 1, nil)[0]
	ws := collectortest.Dial(t, "ws://"+nd.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	br := &browser{ws: ws, visitorID: ws.Welcome.VisitorID, visitorKey: ws.Welcome.VisitorKey, visit: ws.Welcome.VisitID}
	page := collectortest.NewID()
	first := collectortest.Event("Click", page, nil)
	br.send(t, false, first)

	db := openDB(t, url)
	ctx := context.Background()
	other, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Rollback()
	// The writer's deadlock check runs first (after the default second)
	// and fails the writer's transaction, not this one.
	for _, q := range []string{`SET LOCAL deadlock_timeout = '20s'`,
		`UPDATE stats_events SET n = n WHERE level = 86400000 AND name = 'Click'`} {
		if _, err := other.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	second := collectortest.Event("Click", page, nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		br.beacon(t, nd, second)
	}()
	eventually(t, "the writer to wait for the rollup row", func() bool {
		var n int
		err := db.QueryRow(`SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'`).Scan(&n)
		return err == nil && n > 0
	})
	// Now wait for the writer's uncommitted event: a cycle.
	if _, err := other.ExecContext(ctx, `INSERT INTO events (event_id, visit_id, visitor_id, session_id, page_id, name, category,
		timestamp, corrected_at, received_at) SELECT $1, visit_id, visitor_id, session_id, page_id, name, category, timestamp,
		corrected_at, received_at FROM events WHERE event_id = $2 ON CONFLICT (event_id) DO NOTHING`, second.EventID, first.EventID); err != nil {
		t.Fatalf("the test's transaction: %v (want the writer's to be the one failed)", err)
	}
	other.Rollback()
	<-done
	br.sent = []string{first.EventID, second.EventID}
	br.pages = nil
	exact(t, db, []*browser{br})
}
