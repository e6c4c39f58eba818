package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/engage"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/server"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// benchRules stores n rules on events named name, without ever firing:
// on "Click" (what BenchmarkCollectEngage sends, on a product page) every
// event is evaluated against every rule, the engine's worst case; on
// another name the rules only look at the events' names. Half compare
// the event's data, half count events in a window.
func benchRules(b *testing.B, s *store.Store, n int, name string) {
	ctx := context.Background()
	cat, _ := engage.ParseCategory([]byte(`{"name": "products", "tags": [{"url": {"prefix": "/p/"}}]}`))
	if n > 0 {
		if err := s.CreateCategory(ctx, cat); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		cond := fmt.Sprintf(`{"event": {"name": "%s", "data": {"/n": {"gte": %d}}}}`, name, 1000+i)
		if i%2 == 1 {
			cond = fmt.Sprintf(`{"count": {"atLeast": %d, "within": "10m", "of": {"event": {"name": "%s"}}}}`, 500+i, name)
		}
		body := `{"name": "rule ` + fmt.Sprint(i) + `", "when": [` + cond + `, {"page": {"category": "products"}}],
		 "unless": {"offeredWithin": "24h"}, "then": {"offer": {"channel": "chat", "ttl": "30s"}}}`
		if _, err := engage.ParseRule([]byte(body)); err != nil {
			b.Fatal(err)
		}
		if _, err := s.CreateRule(ctx, []byte(body)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollectEngage is ingest's BenchmarkCollect (1,000 clients, each
// its own visit, batches of five events) through a server whose
// engagement engine has 0 or 100 active rules: the contract is that 100
// rules cost at most 10 % of the saturation throughput (docs/engagement.md).
func BenchmarkCollectEngage(b *testing.B) {
	for _, tc := range []struct {
		n    int
		name string
	}{{0, ""}, {100, "Click"}, {100, "AddToCart"}} {
		b.Run(fmt.Sprintf("rules=%d%s", tc.n, tc.name), func(b *testing.B) {
			ctx := context.Background()
			s := storetest.New(b)
			benchRules(b, s, tc.n, tc.name)
			srv, err := server.New(ctx, server.Config{Store: s, RecognitionKey: make([]byte, 32), AllowedOrigins: []string{"*"}})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { srv.Shutdown(context.Background()) })
			// The visits' ids are timed two minutes ahead: visits that
			// start once the engine has run a while, which it need not
			// look up in the history (a restart's first minute pays one
			// indexed read per visit).
			ingesttest.Saturate(b, srv.Ingester(), func() string {
				return ulid.MustNew(ulid.Timestamp(time.Now().Add(2*time.Minute)), rand.Reader).String()
			})
			if e := srv.Engagement(); e != nil {
				b.ReportMetric(float64(e.Dropped()), "dropped-batches")
			}
		})
	}
}
