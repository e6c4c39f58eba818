// Command edgebench loads the edge build under `wrangler dev`, and the
// native collector beside it in the same run, with POST /v1/collect
// batches, and prints requests per second, events per second and latency
// percentiles per batch size, and the edge's share of the native figure.
// Local workerd is not Cloudflare's network: the figures compare builds,
// they do not predict production. `make edge-bench` builds the worker and
// runs it (1-event batches, 16 clients; docs/benchmarks.md#the-edge).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/wrangler"
)

const origin = "http://bench.example"

func main() {
	dir := flag.String("dir", ".", "the folder of wrangler.jsonc, node_modules and build/")
	duration := flag.Duration("duration", 10*time.Second, "load time per batch size")
	concurrency := flag.Int("concurrency", 16, "browsers sending at once")
	batches := flag.String("batches", "1", "comma-separated batch sizes (events per request)")
	native := flag.Bool("native", true, "load the native collector too, for comparison")
	instance := flag.String("go-instance", "isolate", "the worker's VISITRACK_GO_INSTANCE: isolate or request")
	devtools := flag.Bool("devtools", false, "keep wrangler's DevTools inspector attached to the worker (see devtoolsOff)")
	flag.Parse()
	if err := run(*dir, *duration, *concurrency, *batches, *native, *instance, *devtools); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
}

// devtoolsOff is the environment under which `wrangler dev` does not
// attach its DevTools inspector to the worker. wrangler 4.86 has no flag
// for that; it leaves the inspector to VS Code's JavaScript debugger when
// it sees this variable (its getter inspectorEnabled). Attached, the
// inspector enables DevTools' Network domain, and every D1 call (a fetch
// to local D1's Durable Object) then sends four events, bodies included,
// through the inspector proxy (wrangler's second workerd) to wrangler's
// Node process as debug logs: measured here, 7 ms of CPU per 1-event
// collect on top of the worker's 5 ms, which no deployed Worker pays.
const devtoolsOff = "VSCODE_INSPECTOR_OPTIONS={}"

func run(dir string, duration time.Duration, concurrency int, batchList string, native bool, instance string, devtools bool) error {
	var sizes []int
	for f := range strings.SplitSeq(batchList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 500 {
			return fmt.Errorf("-batches: %q is not a batch size from 1 to 500", f)
		}
		sizes = append(sizes, n)
	}
	state, err := os.MkdirTemp("", "visitrack-edgebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute+2*time.Duration(len(sizes))*(duration+5*time.Second))
	defer cancel()
	if err := wrangler.Migrate(ctx, dir, state); err != nil {
		return err
	}
	opt := wrangler.Options{Dir: dir, StateDir: state, Vars: map[string]string{
		edge.EnvRecognitionKey: strings.Repeat("be", 32),
		edge.EnvAllowedOrigins: origin,
		edge.EnvGoInstance:     instance,
	}}
	inspector := "DevTools inspector attached"
	if !devtools {
		opt.Env = []string{devtoolsOff}
		inspector = "no DevTools inspector: -devtools attaches it"
	}
	dev, err := wrangler.Start(ctx, opt)
	if err != nil {
		return err
	}
	defer dev.Stop()

	targets := []target{{"edge", dev.URL}}
	if native {
		url, stop, err := startNative(ctx, state+"/native")
		if err != nil {
			return err
		}
		defer stop()
		targets = append([]target{{"native", url}}, targets...)
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: concurrency}, Timeout: 30 * time.Second}
	fmt.Printf("/v1/collect: the edge under wrangler dev (local workerd, D1 on local SQLite; Go instance per %s; %s) and the native collector, %d concurrent browsers, %v per size\n", instance, inspector, concurrency, duration)
	fmt.Printf("%-8s %-8s %10s %10s %10s %10s %8s\n", "build", "batch", "requests", "req/s", "events/s", "p50", "p99")
	for _, n := range sizes {
		rates := map[string]float64{}
		for _, tg := range targets {
			// Warm up: the first requests compile the module.
			if _, err := load(client, tg.url, n, 2, 2*time.Second); err != nil {
				return fmt.Errorf("%s: %w", tg.name, err)
			}
			cpu0, cpuOK := groupCPU(dev.ProcessGroup(), "workerd")
			node0, _ := groupCPU(dev.ProcessGroup(), "node")
			lat, err := load(client, tg.url, n, concurrency, duration)
			cpu1, _ := groupCPU(dev.ProcessGroup(), "workerd")
			node1, _ := groupCPU(dev.ProcessGroup(), "node")
			if err != nil {
				return fmt.Errorf("%s, batch %d: %w\n%s", tg.name, n, err, dev.Output())
			}
			secs := duration.Seconds()
			rates[tg.name] = float64(len(lat)) / secs
			fmt.Printf("%-8s %-8d %10d %10.1f %10.0f %10s %8s\n", tg.name, n, len(lat), rates[tg.name],
				float64(len(lat)*n)/secs, pct(lat, 0.50), pct(lat, 0.99))
			if tg.name == "edge" && cpuOK {
				fmt.Printf("         CPU per request: workerd %.1f ms (the Worker, local D1 and HTTP: an upper bound of the Worker's), wrangler's node proxy %.1f ms\n",
					(cpu1-cpu0)*1000/float64(len(lat)), (node1-node0)*1000/float64(len(lat)))
			}
		}
		if native {
			fmt.Printf("edge/native at batch %d: %.3f (the target: at least 0.1)\n", n, rates["edge"]/rates["native"])
		}
	}
	// The ceiling of wrangler dev itself here: a request that reaches the
	// Go code and no database.
	lat, err := loadGet(client, dev.URL+"/healthz", concurrency, duration)
	if err != nil {
		return fmt.Errorf("edge /healthz: %w", err)
	}
	fmt.Printf("edge GET /healthz (no D1): %.1f req/s, p50 %s: what wrangler dev serves here at best\n",
		float64(len(lat))/duration.Seconds(), pct(lat, 0.50))
	// What a kept Go instance could run into (syumai/workers PR #91).
	for _, bad := range []string{"call to released function", "Go program has already exited", "deadlock"} {
		if c := strings.Count(dev.Output(), bad); c > 0 {
			fmt.Printf("worker output: %q %d times\n", bad, c)
		}
	}
	size, err := wrangler.DeployDryRun(ctx, dir)
	if err != nil {
		return err
	}
	fmt.Printf("worker size: %.1f KiB gzip, as `wrangler deploy --dry-run` reports it (free plan: 3 MB; the gate is EDGE_MAX_GZIP_BYTES in mk/edge.mk)\n", float64(size)/1024)
	return nil
}

// target is a collector under load.
type target struct{ name, url string }

// load runs concurrency browsers for d, each posting batches of n events
// and waiting for the answer, and returns every request's latency.
func load(client *http.Client, base string, n, concurrency int, d time.Duration) ([]time.Duration, error) {
	return clients(concurrency, d, func() func() (time.Duration, error) {
		ids := ulid.Monotonic(rand.Reader, 0)
		id := func() string { return ulid.MustNew(ulid.Now(), ids).String() }
		// A browser: it keeps the visitor, key and visit the collector
		// answers with, so only its first request opens a visit.
		visitor, key, visit, page := id(), "", id(), id()
		return func() (time.Duration, error) {
			events := make([]map[string]any, n)
			for i := range events {
				events[i] = map[string]any{"eventId": id(), "name": "Bench", "pageId": page,
					"timestamp": time.Now().UTC().Format("2006-01-02T15:04:05.000Z"), "data": map[string]any{"i": i}}
			}
			body, _ := json.Marshal(map[string]any{"visitorId": visitor, "visitorKey": key, "visitId": visit, "events": events})
			req, _ := http.NewRequest("POST", base+"/v1/collect", bytes.NewReader(body))
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			req.Header.Set("Origin", origin)
			start := time.Now()
			resp, err := client.Do(req)
			if err != nil {
				return 0, err
			}
			var ack struct {
				VisitorID  string `json:"visitorId"`
				VisitorKey string `json:"visitorKey"`
				VisitID    string `json:"visitId"`
				Ack        struct {
					EventIDs []string `json:"eventIds"`
				} `json:"ack"`
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("%s: %s", resp.Status, b)
			}
			if json.Unmarshal(b, &ack) != nil || len(ack.Ack.EventIDs) != n {
				return 0, fmt.Errorf("acked %d of %d events: %s", len(ack.Ack.EventIDs), n, b)
			}
			visitor, key, visit = ack.VisitorID, ack.VisitorKey, ack.VisitID
			return took, nil
		}
	})
}

// loadGet runs concurrency clients getting url for d and returns every
// request's latency, sorted.
func loadGet(client *http.Client, url string, concurrency int, d time.Duration) ([]time.Duration, error) {
	return clients(concurrency, d, func() func() (time.Duration, error) {
		return func() (time.Duration, error) {
			start := time.Now()
			resp, err := client.Get(url)
			if err != nil {
				return 0, err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("%s", resp.Status)
			}
			return took, nil
		}
	})
}

// clients runs concurrency clients for d, each made by newClient and
// calling its request function again and again, and returns every
// request's latency, sorted; the first error stops its client and is
// returned.
func clients(concurrency int, d time.Duration, newClient func() func() (time.Duration, error)) ([]time.Duration, error) {
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs []error
		wg   sync.WaitGroup
	)
	end := time.Now().Add(d)
	for range concurrency {
		wg.Go(func() {
			request := newClient()
			var mine []time.Duration
			for time.Now().Before(end) {
				took, err := request()
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				mine = append(mine, took)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("no request finished in %v", d)
	}
	slices.Sort(lat)
	return lat, nil
}

// pct returns the p-quantile of sorted latencies.
func pct(sorted []time.Duration, p float64) string {
	i := min(len(sorted)-1, int(p*float64(len(sorted))))
	return sorted[i].Round(100 * time.Microsecond).String()
}
