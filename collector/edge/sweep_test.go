package edge_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestSweep: edge.Sweep, which the Worker runs on its Cron Trigger, ends
// visits idle for VISITRACK_VISIT_TIMEOUT with VisitEnded at their last
// activity plus the timeout, at most VISITRACK_SWEEP_LIMIT a run. Natively,
// on SQLite with D1's restrictions, with the collector built anew for every
// request; TestCronSweep runs it in the Worker under wrangler dev.
func TestSweep(t *testing.T) {
	ctx := context.Background()
	const origin, admin, timeout = "http://shop.example", "vt_edge-sweep-admin-0123456789", 300 * time.Millisecond
	env := map[string]string{
		edge.EnvAdminToken:     admin,
		edge.EnvRecognitionKey: strings.Repeat("c3", 32),
		edge.EnvAllowedOrigins: origin,
		edge.EnvVisitTimeout:   timeout.String(),
		edge.EnvSweepLimit:     "1",
	}
	getenv := func(k string) string { return env[k] }
	logger := slog.New(slog.DiscardHandler)
	db, _, url := freshWorker(t, env)
	c := &sweepClient{t: t, base: url, origin: origin, admin: admin}
	sweep := func(want int) {
		t.Helper()
		n, err := edge.Sweep(ctx, db, getenv, logger)
		if err != nil || n != want {
			t.Fatalf("Sweep: %d visits ended, %v; want %d", n, err, want)
		}
	}

	first := c.browse()
	time.Sleep(10 * time.Millisecond)
	second := c.browse()
	sweep(0) // not idle yet
	c.open(first)
	c.waitIdle(second, timeout)
	third := c.browse()
	sweep(1) // the oldest first, one a run
	c.ended(first, timeout)
	c.open(second)
	sweep(1)
	c.ended(second, timeout)
	sweep(0)
	c.open(third)
}

// sweepClient is a tracker and a History API reader of an edge collector.
type sweepClient struct {
	t                   *testing.T
	base, origin, admin string
}

func (c *sweepClient) do(req *http.Request, v any) {
	c.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %s %s", req.Method, req.URL.Path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("%s %s: %v: %s", req.Method, req.URL.Path, err, body)
	}
}

// browse posts a Browse event for a new visitor to /v1/collect and returns
// the visit's id.
func (c *sweepClient) browse() string {
	c.t.Helper()
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
	body, _ := json.Marshal(map[string]any{
		"visitorId": ulid.Make().String(), "visitId": ulid.Make().String(), "sentAt": now,
		"events": []protocol.Event{{EventID: ulid.Make().String(), Name: "Browse", Timestamp: now, URL: c.origin + "/"}},
	})
	req, _ := http.NewRequest("POST", c.base+"/v1/collect", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", c.origin)
	var a struct {
		VisitID string `json:"visitId"`
		Ack     struct {
			EventIDs []string `json:"eventIds"`
		} `json:"ack"`
	}
	c.do(req, &a)
	if len(a.Ack.EventIDs) != 1 || a.VisitID == "" {
		c.t.Fatalf("collect answered %+v", a)
	}
	return a.VisitID
}

func (c *sweepClient) get(path string, v any) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.admin)
	c.do(req, v)
}

func (c *sweepClient) visit(id string) *collector.Visit {
	c.t.Helper()
	var v collector.Visit
	c.get("/v1/visits/"+id, &v)
	return &v
}

func (c *sweepClient) events(id string) (names []string, events []collector.Event) {
	c.t.Helper()
	var l struct{ Items []collector.Event }
	c.get("/v1/visits/"+id+"/events", &l)
	for _, e := range l.Items {
		names = append(names, e.Name)
	}
	return names, l.Items
}

// waitIdle sleeps until visit id has been idle for longer than timeout.
func (c *sweepClient) waitIdle(id string, timeout time.Duration) {
	c.t.Helper()
	time.Sleep(time.Until(c.visit(id).LastSeenAt.Add(timeout + 50*time.Millisecond)))
}

// open fails unless visit id is open and has only its Browse event.
func (c *sweepClient) open(id string) {
	c.t.Helper()
	if v := c.visit(id); v.EndedAt != nil {
		c.t.Fatalf("visit %s ended at %v, want it open", id, v.EndedAt)
	}
	if names, _ := c.events(id); fmt.Sprint(names) != "[Browse]" {
		c.t.Fatalf("open visit %s has events %v, want [Browse]", id, names)
	}
}

// ended fails unless visit id ended a timeout after its Browse event, with
// a VisitEnded event then, as the native sweeper ends visits.
func (c *sweepClient) ended(id string, timeout time.Duration) {
	c.t.Helper()
	names, evs := c.events(id)
	if fmt.Sprint(names) != "[Browse VisitEnded]" {
		c.t.Fatalf("visit %s events %v, want [Browse VisitEnded]", id, names)
	}
	v := c.visit(id)
	// The last activity is the Browse event's receipt (the collector
	// pulls its corrected time back to it if the clock ran ahead).
	want := evs[0].ReceivedAt.Add(timeout)
	if v.EndedAt == nil || !v.EndedAt.Equal(want) {
		c.t.Fatalf("visit %s ended at %v, want %v (its last activity %v + %v)", id, v.EndedAt, want, evs[0].ReceivedAt, timeout)
	}
	if e := evs[1]; !e.Timestamp.Equal(want) || !e.CorrectedAt.Equal(want) || e.Category != protocol.CategorySystem {
		c.t.Fatalf("VisitEnded %+v, want a system event at %v", e, want)
	}
}
