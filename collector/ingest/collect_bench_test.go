package ingest_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/enrich/useragent"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkCollect is the ingest path without the network: 1,000 clients,
// each with its own visit, call Collect with batches of 5 events (what a
// tracker sends while it waits for an ack) on a real SQLite file, through
// the single writer and its group commit. It reports durable events/s.
func BenchmarkCollect(b *testing.B) {
	in := ingesttest.Start(b, ingest.Config{Store: storetest.New(b)})
	runCollect(b, in)
}

// runCollect is BenchmarkCollect's load on in (ingesttest.Saturate),
// with the bytes the commits write per event.
func runCollect(b *testing.B, in *ingest.Ingester) {
	written := bytesWritten()
	ingesttest.Saturate(b, in, nil)
	if written >= 0 {
		// What the commits write (the WAL: nothing checkpoints here), the
		// bytes the checkpoints later copy too.
		b.ReportMetric(float64(bytesWritten()-written)/float64(b.N), "B-written/event")
	}
}

// bytesWritten is what this process has passed to write(2) so far
// (Linux's /proc/self/io wchar), or -1 where that is not known.
func bytesWritten() int64 {
	b, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err == nil {
				return n
			}
		}
	}
	return -1
}

// BenchmarkCollectNewVisits is the worst case for enrichment: every call
// is a browser's first contact (a new visitor and visit, classified from
// its User-Agent, landing URL and referrer), with 5 events. Run with and
// without the enricher to see its cost: make bench reports both.
func BenchmarkCollectNewVisits(b *testing.B) {
	agents := []string{
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
	}
	for _, on := range []bool{false, true} {
		name := "enrich=off"
		var en *enrich.Enricher
		if on {
			name, en = "enrich=on", enrich.New(useragent.New(), nil)
		}
		b.Run(name, func(b *testing.B) {
			s := storetest.New(b)
			signer, err := identity.NewSigner(make([]byte, 32), time.Hour, time.Now)
			if err != nil {
				b.Fatal(err)
			}
			in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Enricher: en})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { in.Close(context.Background()) })
			const perBatch = 5
			ctx := context.Background()
			b.SetParallelism(500)
			b.ReportAllocs()
			b.ResetTimer()
			var seq atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				events := make([]json.RawMessage, perBatch)
				for n := 1; pb.Next(); n++ {
					if n%perBatch != 0 {
						continue
					}
					i := seq.Add(1)
					ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
					page := ulid.Make().String()
					for k := range events {
						events[k] = json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"PageEntered","timestamp":"` + ts +
							`","pageId":"` + page + `","url":"https://shop.example/p/1?utm_source=news&gclid=x","referrer":"https://www.google.com/"}`)
					}
					c := ingest.Client{IP: "127.0.0.1", UserAgent: agents[i%int64(len(agents))]}
					if _, err := in.Collect(ctx, c, ts, events); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkCollectPaced is the soak's load without the network: 1,000
// browsers, each with its own visit, send 5 events every 166 ms (30,000
// events/s), b.N batches each. It reports the ack p99 and what the commits
// write per event: small commits of many visits each dirty more pages per
// event than the saturation of BenchmarkCollect, and the bytes are what
// the checkpoints copy back later. Run with -benchtime 30x or more.
func BenchmarkCollectPaced(b *testing.B) {
	in := ingesttest.Start(b, ingest.Config{Store: storetest.New(b)})
	const clients, perBatch = 1000, 5
	page := ulid.Make().String()
	written := bytesWritten()
	b.ResetTimer()
	lat := ingesttest.Paced(b, in, clients, perBatch, b.N, 166*time.Millisecond, func(ts string) json.RawMessage {
		return json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"Click","timestamp":"` + ts +
			`","pageId":"` + page + `","url":"https://shop.example/p/1","data":{"button":"buy","n":1}}`)
	})
	b.StopTimer()
	ingesttest.ReportLatency(b, lat)
	if written >= 0 {
		b.ReportMetric(float64(bytesWritten()-written)/float64(clients*perBatch*b.N), "B-written/event")
	}
}
