package ingest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkCollect is the ingest path without the network: 1,000 clients,
// each with its own visit, call Collect with batches of 5 events (what a
// tracker sends while it waits for an ack) on a real SQLite file, through
// the single writer and its group commit. It reports durable events/s.
func BenchmarkCollect(b *testing.B) {
	s := storetest.New(b)
	signer, err := identity.NewSigner(make([]byte, 32), time.Hour, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { in.Close(context.Background()) })

	const perBatch = 5
	ctx := context.Background()
	b.SetParallelism(500) // 1,000 goroutines on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String(), IP: "127.0.0.1"}
		page := ulid.Make().String()
		events := make([]json.RawMessage, perBatch)
		for n := 1; pb.Next(); n++ {
			// One b.N iteration is one event; a batch goes out every
			// perBatch iterations.
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
}
