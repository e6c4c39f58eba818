package engage_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// addRule stores a rule and returns its id.
func addRule(t *testing.T, col *collectortest.Collector, body string) string {
	t.Helper()
	st, b := col.Do("POST", "/v1/engagement/rules", body)
	if st != 201 {
		t.Fatalf("rule: %d %s", st, b)
	}
	var r struct {
		ID string `json:"id"`
	}
	json.Unmarshal(b, &r)
	return r.ID
}

// offered is how many offers rule id made, from its stats.
func offered(col *collectortest.Collector, id string) int {
	var st struct{ Offered int }
	col.Get("/v1/engagement/rules/"+id+"/stats", &st)
	return st.Offered
}

// onEvent is a rule that offers on the event name, with extra JSON fields.
func onEvent(name, extra string) string {
	return `{"name": "on ` + name + `", "when": [{"event": {"name": "` + name + `"}}],
	 "then": {"offer": {"channel": "chat", "ttl": "1m"}}` + extra + `}`
}

// visitOn opens a new visit's page.
func visitOn(t *testing.T, col *collectortest.Collector) *collectortest.Client {
	return collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
}

// settled waits until the engine has evaluated every batch sent before:
// it evaluates batches in order, so once the sentinel rule's offer for a
// later Sentinel event is made, the earlier events were evaluated.
func settled(t *testing.T, col *collectortest.Collector, c *collectortest.Client, sentinel string) {
	t.Helper()
	before := offered(col, sentinel)
	frames(t, c, collectortest.Event("Sentinel", collectortest.NewID(), nil))
	waitFor(t, "the sentinel's offer", func() bool { return offered(col, sentinel) > before })
}

// A rule's pacing.perMinute caps its offers; the other rules are not held
// back by it.
func TestPerRulePerMinute(t *testing.T) {
	col := collectortest.Start(t)
	capped := addRule(t, col, onEvent("Ping", `, "pacing": {"perMinute": 1}`))
	sentinel := addRule(t, col, onEvent("Sentinel", ""))
	for range 3 {
		c := visitOn(t, col)
		frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
		settled(t, col, c, sentinel)
	}
	if n := offered(col, capped); n != 1 {
		t.Fatalf("a rule with perMinute 1 made %d offers to 3 visits in a minute", n)
	}
	if n := offered(col, sentinel); n != 3 {
		t.Fatalf("the uncapped rule made %d offers, want 3", n)
	}
}

// --engagement-per-minute caps the offers of all rules together.
func TestGlobalPerMinute(t *testing.T) {
	col := collectortest.Start(t, "--engagement-per-minute", "2")
	a := addRule(t, col, onEvent("Ping", ""))
	b := addRule(t, col, onEvent("Pong", ""))
	for _, name := range []string{"Ping", "Pong", "Ping", "Pong"} {
		frames(t, visitOn(t, col), collectortest.Event(name, collectortest.NewID(), nil))
	}
	waitFor(t, "two offers", func() bool { return offered(col, a)+offered(col, b) >= 2 })
	// The engine evaluates in order; give it the time to (wrongly) make
	// the third and fourth.
	time.Sleep(500 * time.Millisecond)
	if n := offered(col, a) + offered(col, b); n != 2 {
		t.Fatalf("%d offers with --engagement-per-minute 2", n)
	}
}

// capacityServer answers {"available": n} with n as set, counting the
// requests.
type capacityServer struct {
	available, hits atomic.Int64
	hold            chan struct{} // when set, each request waits on it
}

func (c *capacityServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.hits.Add(1)
	if c.hold != nil {
		<-c.hold
	}
	fmt.Fprintf(w, `{"available": %d}`, c.available.Load())
}

// A capacity URL answering {"available": 0} blocks the offer, and its
// answer is kept a few seconds; once it answers 2 (and the cached 0 is
// stale), the offer is made.
func TestCapacityURL(t *testing.T) {
	cs := &capacityServer{}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	col := collectortest.Start(t, "--webhook-allow-private")
	rule := addRule(t, col, onEvent("Ping", `, "pacing": {"capacityUrl": "`+srv.URL+`"}`))
	sentinel := addRule(t, col, onEvent("Sentinel", ""))

	c := visitOn(t, col)
	frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
	settled(t, col, c, sentinel)
	if n := offered(col, rule); n != 0 || cs.hits.Load() != 1 {
		t.Fatalf("with no capacity: %d offers, %d capacity requests", n, cs.hits.Load())
	}
	cs.available.Store(2)
	c2 := visitOn(t, col)
	frames(t, c2, collectortest.Event("Ping", collectortest.NewID(), nil))
	settled(t, col, c2, sentinel)
	if n := offered(col, rule); n != 0 || cs.hits.Load() != 1 {
		t.Fatalf("the cached answer (0) was not used: %d offers, %d capacity requests", n, cs.hits.Load())
	}
	time.Sleep(3100 * time.Millisecond)
	c3 := visitOn(t, col)
	_, offers := frames(t, c3, collectortest.Event("Ping", collectortest.NewID(), nil))
	if len(offers) == 0 {
		_, offers = frames(t, c3)
	}
	if offers[0].RuleID != rule || offered(col, rule) != 1 || cs.hits.Load() != 2 {
		t.Fatalf("with 2 available: offer %+v, %d offers, %d capacity requests", offers[0], offered(col, rule), cs.hits.Load())
	}
}

var droppedMetric = regexp.MustCompile(`(?m)^visitrack_engagement_dropped_batches_total (\S+)$`)

// Batches the engine's bounded queue cannot take are dropped and counted
// in /metrics.
func TestDroppedBatchesInMetrics(t *testing.T) {
	cs := &capacityServer{hold: make(chan struct{})}
	srv := httptest.NewServer(cs)
	defer srv.Close()
	defer close(cs.hold)
	col := collectortest.Start(t, "--webhook-allow-private", "--engagement-queue", "1")
	addRule(t, col, onEvent("Ping", `, "pacing": {"capacityUrl": "`+srv.URL+`"}`))
	metric := func() float64 {
		st, b := col.Do("GET", "/metrics", nil)
		m := droppedMetric.FindSubmatch(b)
		if st != 200 || m == nil {
			t.Fatalf("/metrics: %d, no visitrack_engagement_dropped_batches_total", st)
		}
		n, _ := strconv.ParseFloat(string(m[1]), 64)
		return n
	}
	if n := metric(); n != 0 {
		t.Fatalf("dropped at start: %v", n)
	}
	c := visitOn(t, col)
	frames(t, c, collectortest.Event("Ping", collectortest.NewID(), nil))
	// The engine now waits on the capacity URL: one batch fits the queue,
	// the others are dropped.
	waitFor(t, "the capacity request", func() bool { return cs.hits.Load() == 1 })
	for range 4 {
		if ack, _ := frames(t, c, collectortest.Event("Pong", collectortest.NewID(), nil)); len(ack.Rejected) > 0 {
			t.Fatalf("rejected: %+v", ack.Rejected)
		}
	}
	if n := metric(); n != 3 {
		t.Fatalf("visitrack_engagement_dropped_batches_total = %v, want 3", n)
	}
}

// An event that hits several things the rules watch checks each rule it
// may make true once, in the rules' order: a rule watching two of them
// makes one offer, and with --engagement-per-minute 2 the first two rules
// get the offers, whichever of the event's matches named them first.
func TestRulesCheckedOnceInOrder(t *testing.T) {
	const (
		xIs1  = `{"event": {"name": "Ping", "data": {"/x": {"eq": 1}}}}`
		ping  = `{"event": {"name": "Ping"}}`
		count = `{"count": {"atLeast": 1, "within": "1m", "of": {"event": {"name": "Ping"}}}}`
	)
	rule := func(name string, when ...string) string {
		return `{"name": "` + name + `", "when": [` + strings.Join(when, ", ") + `], "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`
	}
	for _, tc := range []struct {
		flags []string
		want  string
	}{{nil, "[1 1 1]"}, {[]string{"--engagement-per-minute", "2"}, "[1 1 0]"}} {
		col := collectortest.Start(t, tc.flags...)
		// The rules' order is their ids', timed to the millisecond: one
		// each millisecond at most keeps it the order of creation.
		var ids []string
		for _, body := range []string{rule("data", xIs1), rule("any", ping), rule("both", xIs1, count)} {
			ids = append(ids, addRule(t, col, body))
			time.Sleep(2 * time.Millisecond)
		}
		if !slices.IsSorted(ids) {
			t.Fatalf("rule ids %v not in the order of creation", ids)
		}
		sentinel := addRule(t, col, onEvent("Sentinel", ""))
		c := visitOn(t, col)
		frames(t, c, collectortest.Event("Ping", collectortest.NewID(), map[string]int{"x": 1}))
		if tc.flags == nil {
			settled(t, col, c, sentinel)
		} else {
			waitFor(t, "two offers", func() bool { return offered(col, ids[0])+offered(col, ids[1])+offered(col, ids[2]) >= 2 })
			time.Sleep(300 * time.Millisecond)
		}
		var got []int
		for _, id := range ids {
			got = append(got, offered(col, id))
		}
		if fmt.Sprint(got) != tc.want {
			t.Errorf("%v: offers per rule %v, want %s", tc.flags, got, tc.want)
		}
	}
}
