package maintain_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkPacedTrim measures the ack latency (p99) of paced ingest, as
// BenchmarkPacedRetention does: 50 clients, 5 events every 20 ms
// each (12,500 events/s), b.N calls per client, on a real SQLite file with
// a backlog of 400,000 minute rollup rows from a week ago (300,000 page
// URLs, 100,000 event names, as a busy site with many URLs leaves): "quiet"
// leaves them, "trimming" runs the trimmer beside the load with its
// defaults. Run with -benchtime 200x.
func BenchmarkPacedTrim(b *testing.B) { quietAndBusy(b, "trimming", pacedTrim) }

func pacedTrim(b *testing.B, trim bool) {
	s := storetest.New(b)
	const pageRows, eventRows = 300_000, 100_000
	week := time.Now().Add(-7 * 24 * time.Hour).Truncate(time.Hour).UnixMilli()
	storetest.Exec(b, s, `WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ? - 1)
		INSERT INTO stats_pages (level, bucket, url, bot, n) SELECT 60000, ? + n % 1440 * 60000, 'https://shop.example/p' || n, 0, 1 FROM i`, pageRows, week)
	storetest.Exec(b, s, `WITH RECURSIVE i(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM i WHERE n < ? - 1)
		INSERT INTO stats_events (level, bucket, name, bot, n) SELECT 60000, ? + n % 1440 * 60000, 'Event' || n, 0, 1 FROM i`, eventRows, week)
	in := ingesttest.Start(b, ingest.Config{Store: s})
	w := &timedWriter{Writer: in}
	job := jobOrNil(b, trim, func() (maintain.Job, error) { return maintain.Rollups(maintain.RollupConfig{Store: s}) })
	elapsed := pacedBeside(b, s, in, w, job, func(ts string) json.RawMessage {
		// Page views of their own page each: a page rollup row a URL, as on
		// a site with many URLs.
		return json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"PageEntered","timestamp":"` + ts +
			`","pageId":"` + ulid.Make().String() + `","url":"https://shop.example/n/` + ulid.Make().String() + `"}`)
	})
	// The writer's time the trimming took: what it holds ingest back.
	b.ReportMetric(float64(w.max.Microseconds())/1000, "step-max-ms")
	b.ReportMetric(100*float64(w.total)/float64(elapsed), "writer-%")
	reach, _ := store.StatsReach(time.Now())
	left := storetest.Count(b, s, "stats_pages", "level = 60000 AND bucket < ?", reach.UnixMilli()) +
		storetest.Count(b, s, "stats_events", "level = 60000 AND bucket < ?", reach.UnixMilli())
	b.ReportMetric(float64(pageRows+eventRows-left), "rows-trimmed")
}

// timedWriter measures the rounds it runs in the ingest writer.
type timedWriter struct {
	maintain.Writer
	mu         sync.Mutex
	total, max time.Duration
}

func (w *timedWriter) Maintain(ctx context.Context, fn func(ctx context.Context, tx ingest.Tx) error) error {
	return w.Writer.Maintain(ctx, func(ctx context.Context, tx ingest.Tx) error {
		t0 := time.Now()
		err := fn(ctx, tx)
		d := time.Since(t0)
		w.mu.Lock()
		w.total += d
		w.max = max(w.max, d)
		w.mu.Unlock()
		return err
	})
}
