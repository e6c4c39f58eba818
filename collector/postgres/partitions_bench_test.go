package postgres_test

import (
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkEventBytes measures what a stored event costs on disk: a
// history of 1 M events (50,000 visits of 20, storetest.SeedBulk), then,
// per event, the bytes of the events partitions' heap (with TOAST) and of
// each of the table's indexes, summed over the partitions
// (docs/deployment.md#capacity). b.N is not used: the figures are the
// point, reported as metrics.
//
//	go test -run '^$' -bench EventBytes -benchtime 1x ./collector/postgres/
func BenchmarkEventBytes(b *testing.B) {
	const visits, perVisit = 50_000, 20
	s := storetest.NewPostgres(b)
	storetest.SeedBulk(b, s, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), visits, perVisit)
	db := s.DB()
	if _, err := db.Exec(`VACUUM ANALYZE events`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
	}
	events := float64(visits * perVisit)
	var heap int64
	if err := db.QueryRow(`SELECT sum(pg_table_size(inhrelid)) FROM pg_inherits WHERE inhparent = 'events'::regclass`).Scan(&heap); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(heap)/events, "heap-B/event")
	total := heap
	for _, idx := range []string{"events_pkey", "events_visit", "events_rowid"} {
		var n int64
		if err := db.QueryRow(`SELECT sum(pg_relation_size(inhrelid)) FROM pg_inherits WHERE inhparent = ?::regclass`, idx).Scan(&n); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(n)/events, idx+"-B/event")
		total += n
	}
	b.ReportMetric(float64(total)/events, "total-B/event")
}
