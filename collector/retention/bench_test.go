package retention_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/retention"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkPacedCollect measures the ack latency (p99) of paced ingest: 50
// clients, 5 events every 20 ms each (12,500 events/s), b.N calls per
// client, on a real SQLite file with a backlog of 3,000 expired visits of
// 20 events each: "quiet" leaves them, "purging" runs retention beside
// the load with its defaults. Run with -benchtime 200x.
func BenchmarkPacedCollect(b *testing.B) {
	for _, purge := range []bool{false, true} {
		name := "quiet"
		if purge {
			name = "purging"
		}
		b.Run(name, func(b *testing.B) { pacedCollect(b, purge) })
	}
}

func pacedCollect(b *testing.B, purge bool) {
	s := storetest.New(b)
	seedBacklog(b, s, 3000, 20)
	signer, err := identity.NewSigner(make([]byte, 32), time.Hour, time.Now)
	if err != nil {
		b.Fatal(err)
	}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer})
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close(context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var purged sync.WaitGroup
	if purge {
		r, err := retention.New(retention.Config{Store: s, Writer: in, Retention: 400 * 24 * time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		purged.Add(1)
		go func() { defer purged.Done(); r.Run(ctx) }()
	}
	const clients, perBatch, every = 50, 5, 20 * time.Millisecond
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String(), IP: "127.0.0.1"}
			page := ulid.Make().String()
			events := make([]json.RawMessage, perBatch)
			next := start.Add(time.Duration(i) * every / clients)
			for range b.N {
				time.Sleep(time.Until(next))
				next = next.Add(every)
				t0 := time.Now()
				ts := t0.UTC().Format("2006-01-02T15:04:05.000Z07:00")
				for k := range events {
					events[k] = json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"Click","timestamp":"` + ts +
						`","pageId":"` + page + `","data":{"n":1}}`)
				}
				res, err := in.Collect(context.Background(), c, ts, events)
				if err != nil {
					b.Error(err)
					return
				}
				c.VisitID = res.Visit.VisitID
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	cancel()
	purged.Wait()
	all := slices.Concat(lat...)
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(all[len(all)/2].Microseconds())/1000, "p50-ms")
	left := storetest.Count(b, s, "visits", "ended_at < ?", time.Now().Add(-400*24*time.Hour).UnixMilli())
	b.ReportMetric(float64(3000-left), "visits-purged")
}

// seedBacklog inserts visits that ended 500 days ago, events each.
func seedBacklog(b *testing.B, s *store.Store, visits, events int) {
	tx, err := s.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	at := time.Now().Add(-500 * 24 * time.Hour).UnixMilli()
	for v := range visits {
		id := fmt.Sprintf("01JDOLD%019d", v)
		if _, err := tx.Exec(`INSERT INTO visits (visit_id, visitor_id, session_id, started_at, last_seen_at, ended_at) VALUES (?, ?, ?, ?, ?, ?)`,
			id, id, id, at, at, at+1000); err != nil {
			b.Fatal(err)
		}
		for e := range events {
			if _, err := tx.Exec(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at, data)
				VALUES (?, ?, ?, ?, 'Click', 'business', ?, ?, ?, '{"n":1}')`, fmt.Sprintf("%sE%03d", id, e), id, id, id, at, at, at); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
