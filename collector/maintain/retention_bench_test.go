package maintain_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkPacedRetention measures the ack latency (p99) of paced ingest: 50
// clients, 5 events every 20 ms each (12,500 events/s), b.N calls per
// client, on a real SQLite file with a backlog of 3,000 expired visits of
// 20 events each: "quiet" leaves them, "purging" runs retention beside
// the load with its defaults. Run with -benchtime 200x.
func BenchmarkPacedRetention(b *testing.B) { quietAndBusy(b, "purging", pacedRetention) }

func pacedRetention(b *testing.B, purge bool) {
	s := storetest.New(b)
	seedBacklog(b, s, 3000, 20)
	in := ingesttest.Start(b, ingest.Config{Store: s})
	job := jobOrNil(b, purge, func() (maintain.Job, error) {
		return maintain.Retention(maintain.RetentionConfig{Store: s, Retention: 400 * 24 * time.Hour})
	})
	page := ulid.Make().String()
	pacedBeside(b, s, in, in, job, func(ts string) json.RawMessage {
		return json.RawMessage(`{"eventId":"` + ulid.Make().String() + `","name":"Click","timestamp":"` + ts +
			`","pageId":"` + page + `","data":{"n":1}}`)
	})
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
			if _, err := tx.Exec(`INSERT INTO events (event_id, visit_id, visitor_id, session_id, name, category, timestamp, corrected_at, received_at, data, visit_key)
				VALUES (?, ?, ?, ?, 'Click', 'business', ?, ?, ?, '{"n":1}', (SELECT visit_key FROM visits WHERE visit_id = ?))`,
				fmt.Sprintf("%sE%03d", id, e), id, id, id, at, at, at, id); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}
