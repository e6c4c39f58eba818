package ingesttest

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/ingest"
)

// Saturate is the load of the saturation benchmarks (ingest's
// BenchmarkCollect and the ones built on it): 1,000 clients on 2 cores,
// each with its own visit, sending batches of five Click events as fast
// as their acks come; one b.N iteration is one event. newVisit makes a
// client's first visit id (nil: a new ULID). It reports events/s and the
// process's CPU time per event: on a shared machine the rate depends on
// the other work, the CPU an event takes much less.
func Saturate(b *testing.B, in *ingest.Ingester, newVisit func() string) {
	const perBatch = 5
	if newVisit == nil {
		newVisit = func() string { return ulid.Make().String() }
	}
	ctx := context.Background()
	b.SetParallelism(500) // 1,000 goroutines on 2 cores
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: newVisit(), IP: "127.0.0.1"}
		page := ulid.Make().String()
		events := make([]json.RawMessage, perBatch)
		for n := 1; pb.Next(); n++ {
			// A batch goes out every perBatch iterations.
			if n%perBatch != 0 {
				continue
			}
			ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
			for i := range events {
				events[i] = json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"Click","timestamp":"` + ts +
					`","pageId":"` + page + `","url":"https://shop.example/p/1","data":{"button":"buy","n":1}}`)
			}
			res, err := in.Collect(ctx, c, ts, events)
			if err != nil {
				b.Error(err)
				return
			}
			if len(res.Ack.EventIDs) != perBatch {
				b.Errorf("ack %+v", res.Ack)
				return
			}
			c.VisitID, c.VisitorKey = res.Visit.VisitID, res.Visit.VisitorKey
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/event")
}

// cpuTime is the CPU time (user and system) the process used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
