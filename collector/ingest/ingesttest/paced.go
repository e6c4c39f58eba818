// Package ingesttest drives a real ingest.Ingester the way browsers do,
// for benchmarks of what runs beside ingest (retention, rollup trimming):
// their cost shows as the acks' latency.
package ingesttest

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
)

// Paced runs clients browsers, each with its own visit, that call Collect
// with perBatch events every interval (spread evenly over it), n times
// each, and returns the latencies of the calls (the ack waits for the
// commit), sorted. event makes one event's JSON from its timestamp.
func Paced(tb testing.TB, in *ingest.Ingester, clients, perBatch, n int, every time.Duration,
	event func(ts string) json.RawMessage) []time.Duration {
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String(), IP: "127.0.0.1"}
			events := make([]json.RawMessage, perBatch)
			next := start.Add(time.Duration(i) * every / time.Duration(clients))
			for range n {
				time.Sleep(time.Until(next))
				next = next.Add(every)
				t0 := time.Now()
				ts := t0.UTC().Format("2006-01-02T15:04:05.000Z07:00")
				for k := range events {
					events[k] = event(ts)
				}
				res, err := in.Collect(context.Background(), c, ts, events)
				if err != nil {
					tb.Error(err)
					return
				}
				c.VisitID, c.VisitorKey = res.Visit.VisitID, res.Visit.VisitorKey
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	return all
}

// ReportLatency reports sorted latencies' p99 and p50 in milliseconds.
func ReportLatency(b *testing.B, sorted []time.Duration) {
	if len(sorted) == 0 {
		b.Fatal("no latency to report")
	}
	b.ReportMetric(float64(sorted[len(sorted)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(sorted[len(sorted)/2].Microseconds())/1000, "p50-ms")
}

// Start returns a running ingester on cfg, closed when the test ends. A
// nil cfg.Signer gets one with a fixed key and tokens valid for an hour.
func Start(tb testing.TB, cfg ingest.Config) *ingest.Ingester {
	tb.Helper()
	if cfg.Signer == nil {
		signer, err := identity.NewSigner([]byte("ingesttest: a fixed test key of 32+ bytes"), time.Hour, time.Now)
		if err != nil {
			tb.Fatal(err)
		}
		cfg.Signer = signer
	}
	in, err := ingest.New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { in.Close(context.Background()) })
	return in
}
