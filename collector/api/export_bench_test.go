package api

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkExportEventsHTTP: GET /v1/export/events of 200,000 events from
// a real SQLite file, through the real handler on a loopback port, read
// whole by an HTTP client. One op is one whole export; events/s is the
// figure docs/benchmarks.md holds it to (at least 100,000). Seeding takes a few
// seconds per run: use -benchtime 3x.
func BenchmarkExportEventsHTTP(b *testing.B) {
	const visits, per = 20_000, 10
	s := storetest.New(b)
	storetest.SeedBulk(b, s, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), visits, per)
	_, secret, err := s.CreateToken(context.Background(), []string{collector.ScopeHistoryRead})
	if err != nil {
		b.Fatal(err)
	}
	h := New(Config{History: s, Tokens: s, Logger: slog.New(slog.DiscardHandler)})
	h.HandleExport(s, ExportOptions{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	buf := make([]byte, 256<<10)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req, _ := http.NewRequest("GET", srv.URL+"/v1/export/events", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		lines := 0
		for {
			n, err := res.Body.Read(buf)
			lines += bytes.Count(buf[:n], []byte{'\n'})
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK || lines != visits*per {
			b.Fatalf("status %d, %d lines, want %d", res.StatusCode, lines, visits*per)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*visits*per)/b.Elapsed().Seconds(), "events/s")
}
