package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// BenchmarkInsertEvents measures the event insert of the ingest path:
// 1000 rows per transaction, rows made before the clock starts, each row
// of another visit than the one before it (the raw ceiling's rows).
func BenchmarkInsertEvents(b *testing.B) { benchInsertEvents(b, 1) }

// BenchmarkInsertEventsFrames is BenchmarkInsertEvents with the rows the
// collector's writer commits: runs of 10 events of one visit (a frame),
// the visits in turn.
func BenchmarkInsertEventsFrames(b *testing.B) { benchInsertEvents(b, 10) }

// benchInsertEvents inserts b.N rows over 1,000 visits in runs of frame
// rows of one visit, 1,000 rows a transaction.
func benchInsertEvents(b *testing.B, frame int) {
	s := storetest.New(b)
	ctx := context.Background()
	const batch = 1000
	visits := make([]string, 1000)
	for i := range visits {
		visits[i] = ulid.Make().String()
	}
	rows := make([]store.EventRow, b.N)
	now := time.Now().UnixMilli()
	for i := range rows {
		k := (i / frame) % len(visits)
		v := visits[k]
		rows[i] = store.EventRow{EventID: ulid.Make().String(), VisitID: v, VisitKey: int64(k + 1), VisitorID: v, SessionID: v,
			PageID: v, Name: "Click", Category: protocol.CategoryBusiness, Timestamp: now, CorrectedAt: now,
			ReceivedAt: now, URL: "https://shop.example/p/1", Data: `{"button":"buy","n":1}`, IP: "127.0.0.1"}
	}
	var args []any
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if args, _, err = s.InsertEvents(ctx, tx, rows[i:min(i+batch, b.N)], args); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
