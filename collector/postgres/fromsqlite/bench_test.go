package fromsqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/postgres/fromsqlite"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkCopy moves a history of a million events (1,000 visits of
// 1,000 events) into PostgreSQL, verification included, and reports
// events/s and the source file's MB/s: the figures docs/migrate-to-postgres.md
// extrapolates from. Run it with -benchtime=1x.
func BenchmarkCopy(b *testing.B) {
	dir := b.TempDir()
	s, closeDB, err := daemon.OpenDatabase(context.Background(), "", dir)
	if err != nil {
		b.Fatal(err)
	}
	storetest.SeedBulk(b, s, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 1000, 1000)
	if err := closeDB(); err != nil {
		b.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var elapsed time.Duration
	for range b.N {
		u := pgtest.NewDatabase(b)
		start := time.Now()
		if _, err := fromsqlite.Run(context.Background(), fromsqlite.Config{From: dir, To: u}); err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
	}
	b.ReportMetric(float64(b.N)*1e6/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(b.N)*float64(fi.Size())/1e6/elapsed.Seconds(), "MB/s")
	b.ReportMetric(float64(fi.Size())/1e6, "source-MB")
}
