package engage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// BenchmarkOfferLatency measures, on a real collector with 100 other
// active rules, the time from sending the triggering event to the offer
// frame in the page (an upper bound of commit-to-frame: it includes the
// commit). The contract is p99 ≤ 100 ms (docs/engagement.md); it is
// reported, not asserted.
func BenchmarkOfferLatency(b *testing.B) {
	col := collectortest.Start(b, "--rate-limit", "0")
	for i := range 100 {
		body := fmt.Sprintf(`{"name": "other %d", "when": [{"event": {"name": "Ping", "data": {"/n": {"gte": %d}}}}],
		 "then": {"offer": {"channel": "chat", "ttl": "1m"}}}`, i, 1000+i)
		if st, out := col.Do("POST", "/v1/engagement/rules", body); st != 201 {
			b.Fatalf("rule: %d %s", st, out)
		}
	}
	if st, out := col.Do("POST", "/v1/engagement/rules", onEvent("Ping", `, "unless": {"offeredWithin": "1h"}`)); st != 201 {
		b.Fatalf("rule: %d %s", st, out)
	}
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		took = append(took, probeOffer(b, col))
	}
	b.StopTimer()
	reportPercentiles(b, took)
	b.ReportMetric(0, "ns/op")
}

// BenchmarkOfferLatencyUnderLoad is BenchmarkOfferLatency while paced
// load runs through the same collector: loadClients pages, each its own
// visit, send a frame of five Click events every loadEvery (10,000
// events/s in all) and read their acks, and 100 rules watch every Click
// (half comparing its data, half counting it, as BenchmarkCollectEngage).
// Every probeEvery a new visit sends the triggering event; the time to
// its offer frame is what the contract bounds (p99 ≤ 100 ms,
// docs/engagement.md). The load actually reached is reported.
func BenchmarkOfferLatencyUnderLoad(b *testing.B) {
	const (
		loadClients = 200
		loadEvery   = 100 * time.Millisecond
		perFrame    = 5
		probeEvery  = 20 * time.Millisecond
	)
	col := collectortest.Start(b, "--rate-limit", "0")
	if st, out := col.Do("POST", "/v1/engagement/categories", `{"name": "products", "tags": [{"url": {"prefix": "/"}}]}`); st != 201 {
		b.Fatalf("category: %d %s", st, out)
	}
	for i := range 100 {
		cond := fmt.Sprintf(`{"event": {"name": "Click", "data": {"/n": {"gte": %d}}}}`, 1000+i)
		if i%2 == 1 {
			cond = fmt.Sprintf(`{"count": {"atLeast": %d, "within": "10m", "of": {"event": {"name": "Click"}}}}`, 500+i)
		}
		body := `{"name": "rule ` + fmt.Sprint(i) + `", "when": [` + cond + `, {"page": {"category": "products"}}],
		 "then": {"offer": {"channel": "chat", "ttl": "30s"}}}`
		if st, out := col.Do("POST", "/v1/engagement/rules", body); st != 201 {
			b.Fatalf("rule: %d %s", st, out)
		}
	}
	if st, out := col.Do("POST", "/v1/engagement/rules", onEvent("Ping", `, "unless": {"offeredWithin": "1h"}`)); st != 201 {
		b.Fatalf("rule: %d %s", st, out)
	}
	load := make([]*collectortest.Client, loadClients)
	for i := range load {
		load[i] = collectortest.Dial(b, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var acked atomic.Int64
	start := time.Now()
	for i, c := range load {
		wg.Add(1)
		go func() {
			defer wg.Done()
			page := collectortest.NewID()
			next := start.Add(time.Duration(i) * loadEvery / loadClients)
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Until(next)):
				}
				next = next.Add(loadEvery)
				evs := make([]protocol.Event, perFrame)
				for k := range evs {
					evs[k] = collectortest.Event("Click", page, map[string]any{"button": "buy", "n": 1})
				}
				frame, _ := json.Marshal(protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Events: evs})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := c.Conn.Write(ctx, websocket.MessageText, frame)
				cancel()
				if err != nil {
					return
				}
				for {
					typ, _, err := c.Read()
					if err != nil {
						return
					}
					if typ == protocol.TypeAck {
						acked.Add(perFrame)
						break
					}
				}
			}
		}()
	}
	time.Sleep(time.Second) // the load is running
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	from, fromAcked := time.Now(), acked.Load()
	for range b.N {
		time.Sleep(probeEvery)
		took = append(took, probeOffer(b, col))
	}
	b.StopTimer()
	rate := float64(acked.Load()-fromAcked) / time.Since(from).Seconds()
	close(stop)
	wg.Wait()
	reportPercentiles(b, took)
	b.ReportMetric(rate, "load-events/s")
	b.ReportMetric(0, "ns/op")
}

// probeOffer opens a new visit, sends the event the Ping rule offers on,
// and returns the time from sending it to the offer frame.
func probeOffer(b *testing.B, col *collectortest.Collector) time.Duration {
	b.Helper()
	c := collectortest.Dial(b, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	defer c.Conn.CloseNow()
	sent := time.Now()
	c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: sent.UTC().Format(time.RFC3339Nano),
		Events: []protocol.Event{collectortest.Event("Ping", collectortest.NewID(), map[string]int{"n": 1})}})
	for {
		typ, _, err := c.Read()
		if err != nil {
			b.Fatalf("reading frames: %v", err)
		}
		if typ == protocol.TypeNotification {
			return time.Since(sent)
		}
	}
}

// reportPercentiles reports the median and the 99th percentile of took,
// in milliseconds.
func reportPercentiles(b *testing.B, took []time.Duration) {
	slices.Sort(took)
	at := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}
