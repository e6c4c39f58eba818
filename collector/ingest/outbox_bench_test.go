package ingest_test

import (
	"context"
	"testing"
	"time"

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
