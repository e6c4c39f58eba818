package engage_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

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
		c := collectortest.Dial(b, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		sent := time.Now()
		c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: sent.UTC().Format(time.RFC3339Nano),
			Events: []protocol.Event{collectortest.Event("Ping", collectortest.NewID(), map[string]int{"n": 1})}})
		for {
			typ, _, err := c.Read()
			if err != nil {
				b.Fatalf("reading frames: %v", err)
			}
			if typ == protocol.TypeNotification {
				break
			}
		}
		took = append(took, time.Since(sent))
		c.Conn.CloseNow()
	}
	b.StopTimer()
	slices.Sort(took)
	at := func(p float64) float64 { return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(0, "ns/op")
}
