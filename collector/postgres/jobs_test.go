package postgres_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// nodesAdmin is the admin token of the nodes the job tests run.
const nodesAdmin = "vt_nodes-jobs-admin-token-0123456789"

// openDB opens the database at url for the test's own reads.
func openDB(t *testing.T, url string) *sql.DB {
	t.Helper()
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eventually polls cond every 50 ms until it holds, failing after a
// generous bound (a loaded two-core machine).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// collect posts events as a new browser's first request to the node, and
// requires an ack of all of them.
func collect(t *testing.T, nd *node, events ...protocol.Event) {
	t.Helper()
	status, b := collectortest.Request(t, nd.URL(), "", "POST", "/v1/collect", protocol.CollectRequest{Events: events},
		"Origin", collectortest.Origin)
	var res struct {
		Ack protocol.Ack `json:"ack"`
	}
	if status != http.StatusOK || json.Unmarshal(b, &res) != nil || len(res.Ack.EventIDs) != len(events) {
		t.Fatalf("collect on %s: %d %s", nd.Addr(), status, b)
	}
}

// counter is a webhook target that counts the requests of each delivery
// (webhook-id) and answers each after a short while, so that claims
// overlap.
type counter struct {
	mu   sync.Mutex
	seen map[string]int
	srv  *httptest.Server
}

func newCounter(t *testing.T) *counter {
	c := &counter{seen: map[string]int{}}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(5 * time.Millisecond)
		c.mu.Lock()
		c.seen[r.Header.Get("webhook-id")]++
		c.mu.Unlock()
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// counts returns the deliveries seen and those seen more than once.
func (c *counter) counts() (distinct int, twice []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, n := range c.seen {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	return len(c.seen), twice
}

// Every node's worker sends the outbox's deliveries, and each delivery
// reaches the target once: claims skip the rows another node is claiming,
// and a node that starts while others send does not make their deliveries
// in flight due again.
func TestWebhookDeliveredOnceAcrossNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	env := map[string]string{"VISITRACK_ADMIN_TOKEN": nodesAdmin}
	flags := []string{"--webhook-allow-private", "--rate-limit", "0"}
	first := startNodes(t, url, 1, env, flags...)[0]
	target := newCounter(t)
	if status, b := collectortest.Request(t, first.URL(), nodesAdmin, "POST", "/v1/webhooks",
		map[string]any{"url": target.srv.URL + "/hook", "events": []string{"business:*"}}); status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, b)
	}
	// The others load the webhook as they start.
	nodes := append([]*node{first}, startNodes(t, url, 2, env, flags...)...)

	const perRequest, requests = 10, 40
	var wg sync.WaitGroup
	for i := range requests {
		nd := nodes[i%len(nodes)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			events := make([]protocol.Event, perRequest)
			for k := range events {
				events[k] = collectortest.Event("AddToCart", "", map[string]any{"n": k})
			}
			collect(t, nd, events...)
		}()
		if i == requests/2 {
			// A node that starts while the others send.
			nodes = append(nodes, startNodes(t, url, 1, env, flags...)...)
		}
	}
	wg.Wait()
	const want = perRequest * requests
	db := openDB(t, url)
	eventually(t, fmt.Sprintf("%d deliveries settled", want), func() bool {
		var settled int
		err := db.QueryRow(`SELECT count(*) FROM webhook_deliveries WHERE delivered_at IS NOT NULL`).Scan(&settled)
		return err == nil && settled == want
	})
	distinct, twice := target.counts()
	if distinct != want || len(twice) > 0 {
		t.Fatalf("the target saw %d deliveries, want %d; %d of them more than once: %v", distinct, want, len(twice), twice)
	}
}

// Each node sweeps idle visits, and every visit is ended once, with one
// VisitEnded: while one node sweeps, the others skip their round.
func TestSweepEndsEachVisitOnceAcrossNodes(t *testing.T) {
	url := pgtest.NewDatabase(t)
	nodes := startNodes(t, url, 3, nil, "--visit-timeout", "300ms", "--rate-limit", "0")
	const visits = 150
	var wg sync.WaitGroup
	for i := range visits {
		wg.Add(1)
		go func() {
			defer wg.Done()
			collect(t, nodes[i%len(nodes)], collectortest.Event("PageEntered", collectortest.NewID(), nil))
		}()
	}
	wg.Wait()
	db := openDB(t, url)
	eventually(t, "every visit ended", func() bool {
		var open int
		err := db.QueryRow(`SELECT count(*) FROM visits WHERE ended_at IS NULL`).Scan(&open)
		return err == nil && open == 0
	})
	// Rounds that would end a visit again have had their chance.
	time.Sleep(time.Second)
	var n, ended, endedEvents, most int
	if err := db.QueryRow(`SELECT count(*), count(ended_at) FROM visits`).Scan(&n, &ended); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT count(*), coalesce(max(c), 0) FROM (SELECT visit_id, count(*) AS c FROM events
		WHERE name = 'VisitEnded' GROUP BY visit_id) per`).Scan(&endedEvents, &most); err != nil {
		t.Fatal(err)
	}
	if n != visits || ended != visits || endedEvents != visits || most != 1 {
		t.Fatalf("%d visits, %d ended, %d with a VisitEnded, at most %d VisitEnded for one; want %d, each ended once",
			n, ended, endedEvents, most, visits)
	}
	var counted int
	if err := db.QueryRow(`SELECT count(*) FROM visits v WHERE event_count <> (SELECT count(*) FROM events e WHERE e.visit_id = v.visit_id)`).
		Scan(&counted); err != nil || counted != 0 {
		t.Fatalf("%d visits whose event_count is not their events' (%v)", counted, err)
	}
}

// A node that starts while another node's delivery is in flight leaves it
// alone: it cannot tell that claim from a dead node's, and sending it too
// would deliver it twice. (A lone SQLite collector that starts makes its
// own leftovers due at once.)
func TestStartingNodeLeavesDeliveriesInFlight(t *testing.T) {
	url := pgtest.NewDatabase(t)
	env := map[string]string{"VISITRACK_ADMIN_TOKEN": nodesAdmin}
	first := startNodes(t, url, 1, env, "--webhook-allow-private")[0]
	arrived := make(chan string, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- r.Header.Get("webhook-id")
		<-release
	}))
	defer srv.Close()
	defer close(release)
	if status, b := collectortest.Request(t, first.URL(), nodesAdmin, "POST", "/v1/webhooks",
		map[string]any{"url": srv.URL + "/hook", "events": []string{"business:*"}}); status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, b)
	}
	collect(t, first, collectortest.Event("AddToCart", "", nil))
	var id string
	select {
	case id = <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the delivery never arrived")
	}
	startNodes(t, url, 1, env, "--webhook-allow-private")
	// The new node's worker has looked for due deliveries at its start
	// and after a poll (1 s).
	select {
	case again := <-arrived:
		t.Fatalf("delivery %s arrived again while %s was in flight", again, id)
	case <-time.After(2500 * time.Millisecond):
	}
}

// A webhook registered through one running node is delivered by another
// running node, without a restart: each node reads the registered webhooks
// again every few seconds.
func TestWebhookRegisteredOnOneNodeDeliversFromAnother(t *testing.T) {
	url := pgtest.NewDatabase(t)
	env := map[string]string{"VISITRACK_ADMIN_TOKEN": nodesAdmin}
	nodes := startNodes(t, url, 2, env, "--webhook-allow-private", "--rate-limit", "0")
	target := newCounter(t)
	if status, b := collectortest.Request(t, nodes[0].URL(), nodesAdmin, "POST", "/v1/webhooks",
		map[string]any{"url": target.srv.URL + "/hook", "events": []string{"business:*"}}); status != http.StatusCreated {
		t.Fatalf("register on node A: %d %s", status, b)
	}
	eventually(t, "node B delivers an event for the webhook registered on node A", func() bool {
		collect(t, nodes[1], collectortest.Event("AddToCart", "", nil))
		distinct, _ := target.counts()
		return distinct > 0
	})
}
