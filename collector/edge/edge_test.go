//go:build edge

// These tests run the built worker (make edge-build) under `wrangler dev`
// with a fresh local D1; `make test-edge` provides both.
package edge_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/conformance"
	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/wrangler"
)

const (
	origin = "http://shop.example"
	admin  = "vt_edge-conformance-admin-0123456789"
)

// worker is a running edge collector.
type worker struct {
	*wrangler.Dev
	state string
}

// startWorker migrates a fresh local D1, runs seed on it, and serves the
// built worker with vars.
func startWorker(t *testing.T, vars map[string]string, seed ...string) *worker {
	t.Helper()
	return startWorkerReady(t, vars, nil, seed...)
}

// startWorkerReady is startWorker with a readiness test (see
// wrangler.Options.Ready).
func startWorkerReady(t *testing.T, vars map[string]string, ready func(int) bool, seed ...string) *worker {
	t.Helper()
	return startWorkerWith(t, wrangler.Options{Vars: vars, Ready: ready}, seed...)
}

// startWorkerWith is startWorker with more of wrangler's options; it sets
// opt's Dir and StateDir.
func startWorkerWith(t *testing.T, opt wrangler.Options, seed ...string) *worker {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	state := t.TempDir()
	if err := wrangler.Migrate(ctx, ".", state); err != nil {
		t.Fatal(err)
	}
	for _, sql := range seed {
		if err := wrangler.Execute(ctx, ".", state, sql); err != nil {
			t.Fatal(err)
		}
	}
	opt.Dir, opt.StateDir = ".", state
	dev, err := wrangler.Start(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dev.Stop()
		if t.Failed() {
			t.Logf("wrangler's output:\n%s", dev.Output())
		}
	})
	return &worker{Dev: dev, state: state}
}

func settings() map[string]string {
	return map[string]string{
		edge.EnvAdminToken:     admin,
		edge.EnvRecognitionKey: strings.Repeat("5e", 32),
		edge.EnvAllowedOrigins: origin,
		edge.EnvIdentitySecret: identitySecret,
	}
}

// tokenRow is the SQL that stores an API token as the store does (its
// SHA-256 in hex): the edge has no `collector token create`.
func tokenRow(secret, scope string) string {
	h := sha256.Sum256([]byte(secret))
	return fmt.Sprintf("INSERT INTO tokens (token_id, hash, scopes, created_at) VALUES ('%s', '%s', '%s', %d)",
		ulid.Make(), hex.EncodeToString(h[:]), scope, time.Now().UnixMilli())
}

func secret() string {
	b := make([]byte, 24)
	rand.Read(b)
	return "vt_" + hex.EncodeToString(b)
}

// TestConformance runs the HTTP API suite against the edge build.
func TestConformance(t *testing.T) {
	tokens := map[string]string{}
	var seed []string
	for _, sc := range conformance.NeededScopes() {
		tokens[sc] = secret()
		seed = append(seed, tokenRow(tokens[sc], sc))
	}
	// A signInToken audience of its own, so that the suite's proofs show
	// VISITRACK_IDENTITY_AUDIENCE reaches the worker's checks.
	set := settings()
	set[edge.EnvIdentityAudience] = "edge-visitrack"
	w := startWorker(t, set, strings.Join(seed, "; "))
	conformance.Run(t, conformance.Target{BaseURL: w.URL, AdminToken: admin, Origin: origin, Tokens: tokens,
		IdentitySecret: identitySecret, IdentityAudience: "edge-visitrack"})
}

// TestCronSweep: the Worker's Cron Trigger ends the visits idle for
// VISITRACK_VISIT_TIMEOUT, at most VISITRACK_SWEEP_LIMIT a run, with
// VisitEnded at their last activity plus the timeout, as the native
// collector's sweeper does (live's TestVisitTimeout); visits that are not
// idle stay open. wrangler dev runs the scheduled handler on request
// (--test-scheduled).
func TestCronSweep(t *testing.T) {
	const timeout = 3 * time.Second
	vars := settings()
	vars[edge.EnvVisitTimeout] = timeout.String()
	vars[edge.EnvSweepLimit] = "1"
	w := startWorkerWith(t, wrangler.Options{Vars: vars, TestScheduled: true})
	c := &sweepClient{t: t, base: w.URL, origin: origin, admin: admin}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cron := func() {
		t.Helper()
		if err := w.Scheduled(ctx, "* * * * *"); err != nil {
			t.Fatalf("%v\nwrangler's output:\n%s", err, w.Output())
		}
	}

	first := c.browse()
	second := c.browse()
	cron()
	c.open(first) // not idle yet
	c.waitIdle(second, timeout)
	third := c.browse()
	cron()
	c.ended(first, timeout) // the oldest first, one a run
	c.open(second)
	c.open(third)
	cron()
	c.ended(second, timeout)
	cron()
	c.ended(first, timeout) // ended once only
}

// TestEdgeLimits: what the edge cannot do is answered on purpose.
func TestEdgeLimits(t *testing.T) {
	w := startWorker(t, settings())

	// WebSockets work here (conformance's WebSocket part); a plain GET of
	// /v1/ws, which the Worker does not hand to the Durable Object, gets
	// the native answer.
	req, _ := http.NewRequest("GET", w.URL+"/v1/ws", nil)
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("GET /v1/ws without an upgrade: %s, want 426", resp.Status)
	}

	// No change feed either: each request runs in its own instance, so a
	// stream would never hear of another's writes. Say so, not 404.
	req, _ = http.NewRequest("GET", w.URL+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	problemOf(t, req, http.StatusNotImplemented)
}

// TestMisconfigured: a Worker without its recognition key says so on every
// request instead of minting a key that the next instance would not know.
func TestMisconfigured(t *testing.T) {
	vars := settings()
	delete(vars, edge.EnvRecognitionKey)
	w := startWorkerReady(t, vars, func(status int) bool { return status == http.StatusServiceUnavailable })
	req, _ := http.NewRequest("GET", w.URL+"/healthz", nil)
	p := problemOf(t, req, http.StatusServiceUnavailable)
	if !strings.Contains(p["detail"].(string), edge.EnvRecognitionKey) {
		t.Fatalf("problem %v: want it to name %s", p, edge.EnvRecognitionKey)
	}
}

func problemOf(t *testing.T, req *http.Request, status int) map[string]any {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		t.Fatalf("%s %s: %s %s %s, want %d problem+json", req.Method, req.URL.Path, resp.Status, resp.Header.Get("Content-Type"), body, status)
	}
	var p map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if _, ok := p["detail"].(string); !ok {
		t.Fatalf("problem %s without a detail", body)
	}
	return p
}
