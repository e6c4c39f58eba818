package ingest_test

import (
	"context"
	"encoding/json"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkCollectCookieless is BenchmarkCollect's load from cookieless
// browsers: 1,000 of them, each its own address and user agent (so its
// own derived visitor and visit), send batches of 5 events whose page URL
// carries a query and whose referrer a path, which is what a cookieless
// visit must not keep. It reports durable events/s.
func BenchmarkCollectCookieless(b *testing.B) {
	in := ingesttest.Start(b, ingest.Config{Store: storetest.New(b)})
	const perBatch = 5
	ctx := context.Background()
	b.SetParallelism(500) // 1,000 goroutines on 2 cores
	b.ReportAllocs()
	var seq atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := seq.Add(1)
		c := ingest.Client{Cookieless: true, Site: "https://shop.example",
			IP: "198.51.100." + strconv.FormatInt(i%250, 10), UserAgent: "Bench/" + strconv.FormatInt(i, 10)}
		page := ulid.Make().String()
		events := make([]json.RawMessage, perBatch)
		for n := 1; pb.Next(); n++ {
			if n%perBatch != 0 {
				continue
			}
			ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
			for k := range events {
				events[k] = json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"Click","timestamp":"` + ts +
					`","pageId":"` + page + `","url":"https://shop.example/p/1?q=shoes&utm_source=news",` +
					`"referrer":"https://search.example/results?q=shoes","data":{"button":"buy","n":1}}`)
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
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
