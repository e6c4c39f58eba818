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
	"github.com/visitrack/visitrack/collector/webhook"
)

// BenchmarkCollectOutbox is BenchmarkCollect with the webhook outbox
// hooked into the writer: "none" with no webhook registered (the cost
// every collector pays; it must be ~0), "subscribed" with one webhook
// taking every event (each event also writes a delivery row in its
// commit; no worker sends them).
func BenchmarkCollectOutbox(b *testing.B) {
	for _, c := range []struct {
		name  string
		types []string
	}{{"none", nil}, {"subscribed", []string{"business:*"}}} {
		b.Run(c.name, func(b *testing.B) {
			s := storetest.New(b)
			outbox := webhook.NewOutbox(s, nil, nil, nil)
			if c.types != nil {
				svc := webhook.NewService(s, webhook.Guard{}, outbox, nil, nil)
				if _, err := svc.CreateWebhook(context.Background(), "https://93.184.216.34/hook", c.types); err != nil {
					b.Fatal(err)
				}
			}
			signer, err := identity.NewSigner(make([]byte, 32), time.Hour, time.Now)
			if err != nil {
				b.Fatal(err)
			}
			in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Outbox: outbox})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { in.Close(context.Background()) })
			runCollect(b, in)
			if c.types != nil {
				if n := storetest.Count(b, s, "webhook_deliveries", ""); n < b.N/2 {
					b.Fatalf("%d deliveries for %d events", n, b.N)
				}
			}
		})
	}
}

// runCollect is BenchmarkCollect's load: 1,000 clients sending batches of
// five events.
func runCollect(b *testing.B, in *ingest.Ingester) {
	const perBatch = 5
	ctx := context.Background()
	b.SetParallelism(500)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String(), IP: "127.0.0.1"}
		page := ulid.Make().String()
		events := make([]json.RawMessage, perBatch)
		for n := 1; pb.Next(); n++ {
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
			c.VisitID = res.Visit.VisitID
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
