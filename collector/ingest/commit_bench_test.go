package ingest_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkCommitOne measures the writer's fixed cost per commit: one
// caller at a time sends one Click, so every transaction carries a single
// job, as about 80 % of them do under docs/benchmarks-collect.md's load
// (50 browsers, one event per POST /v1/collect). The 50 browsers keep
// their visits and keys; ns/op is the time of one request through its
// commit, without the network.
func BenchmarkCommitOne(b *testing.B) {
	in := ingesttest.Start(b, ingest.Config{Store: storetest.New(b)})
	ctx := context.Background()
	clients := make([]ingest.Client, 50)
	pages := make([]string, len(clients))
	click := func(i int) {
		ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
		ev := json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"Click","timestamp":"` + ts +
			`","pageId":"` + pages[i] + `","url":"https://shop.example/p/1","data":{"button":"buy"}}`)
		res, err := in.Collect(ctx, clients[i], ts, []json.RawMessage{ev})
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Ack.EventIDs) != 1 {
			b.Fatalf("ack %+v", res.Ack)
		}
		clients[i].VisitorID, clients[i].VisitID = res.Visit.VisitorID, res.Visit.VisitID
		clients[i].VisitorKey = res.Visit.VisitorKey
	}
	for i := range clients {
		clients[i].IP, pages[i] = "127.0.0.1", ulid.Make().String()
		click(i) // opens the visit
	}
	b.ReportAllocs()
	written := bytesWritten()
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		click(n % len(clients))
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commits/s")
	if written >= 0 {
		// The log frames each commit writes: the pages it dirtied.
		b.ReportMetric(float64(bytesWritten()-written)/float64(b.N), "B-written/commit")
	}
}
