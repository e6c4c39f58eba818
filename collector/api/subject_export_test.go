package api

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// seedPerson stores visits visits of events events each (storetest.SeedBulk)
// and files them all under one identity, linked and proven on every
// visit's browser; it returns the identity's id.
func seedPerson(tb testing.TB, s *store.Store, visits, events int) string {
	tb.Helper()
	storetest.SeedBulk(tb, s, time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC), visits, events)
	id := storetest.ID(9, 1)
	for _, q := range []string{
		`INSERT INTO identities (identity_id, user_id, attributes, first_seen_at, last_seen_at) VALUES (?, 'bench@example.com', '{}', 0, 0)`,
		`INSERT INTO visit_identities (visit_id, identity_id, how, verified, linked_at) SELECT visit_id, ?, 'authenticated', 1, started_at FROM visits`,
		`INSERT INTO identity_visitors (identity_id, visitor_id, linked_at) SELECT ?, visitor_id, min(started_at) FROM visits GROUP BY visitor_id`,
		`UPDATE visits SET identity_id = ?`,
		`UPDATE events SET identity_id = ?`,
	} {
		storetest.Exec(tb, s, q, id)
	}
	storetest.Exec(tb, s, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at)
		SELECT visitor_id, min(started_at), max(last_seen_at) FROM visits GROUP BY visitor_id`)
	return id
}

// subjectServer serves the subject export of s on a loopback port and
// returns its URL and a token with the scope.
func subjectServer(tb testing.TB, s *store.Store, opt ExportOptions) (string, string) {
	tb.Helper()
	_, secret, err := s.CreateToken(context.Background(), []string{collector.ScopeSubjectExport})
	if err != nil {
		tb.Fatal(err)
	}
	h := New(Config{History: s, Tokens: s, Logger: slog.New(slog.DiscardHandler)})
	h.HandleSubjectExport(s, opt)
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.URL, secret
}

// TestSubjectExportBreaksOffVisibly: a stored row that cannot be written
// (an event whose data is not JSON, in the last visit) stops the export
// after its 200 and many lines. The client sees a broken transfer, and
// what it got has the header but no completion line.
func TestSubjectExportBreaksOffVisibly(t *testing.T) {
	s := storetest.New(t)
	id := seedPerson(t, s, 20, 50)
	storetest.Exec(t, s, `UPDATE events SET data = '{broken' WHERE event_id = ?`, storetest.ID(8, 20*50-1))
	base, token := subjectServer(t, s, ExportOptions{FlushEvery: 2})
	req, _ := http.NewRequest("GET", base+"/v1/identities/"+id+"/export", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d", res.StatusCode)
	}
	var types []string
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		var l struct{ Type string }
		if json.Unmarshal(sc.Bytes(), &l) == nil {
			types = append(types, l.Type)
		}
	}
	if sc.Err() == nil {
		t.Error("the transfer ended cleanly although the export broke off")
	}
	if len(types) < 100 || types[0] != "header" {
		t.Fatalf("%d lines before the break, first %v", len(types), types[:min(1, len(types))])
	}
	for _, typ := range types {
		if typ == "end" {
			t.Fatalf("a broken export has a completion line (after %d lines)", len(types))
		}
	}
}

// BenchmarkSubjectExportHTTP: GET /v1/identities/{id}/export of a person
// with 10,000 and 100,000 events (100 a visit) from a real SQLite file,
// through the real handler on a loopback port, read whole by an HTTP
// client. One op is one whole export. events/s must be at least 50,000;
// peak-heap-MB (the largest live heap seen during the exports, sampled
// every 5 ms) must not grow with the person: memory is flat.
func BenchmarkSubjectExportHTTP(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(itoa(int64(n))+"events", func(b *testing.B) {
			const per = 100
			s := storetest.New(b)
			id := seedPerson(b, s, n/per, per)
			base, token := subjectServer(b, s, ExportOptions{})
			runtime.GC()
			var peak atomic.Uint64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				var ms runtime.MemStats
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					runtime.ReadMemStats(&ms)
					if ms.HeapAlloc > peak.Load() {
						peak.Store(ms.HeapAlloc)
					}
				}
			}()
			buf := make([]byte, 256<<10)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req, _ := http.NewRequest("GET", base+"/v1/identities/"+id+"/export", nil)
				req.Header.Set("Authorization", "Bearer "+token)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				lines, last := 0, []byte(nil)
				for {
					k, err := res.Body.Read(buf)
					for _, c := range buf[:k] {
						if c == '\n' {
							lines++
						}
					}
					last = append(last, buf[:k]...)
					if len(last) > 4096 {
						last = append(last[:0], last[len(last)-2048:]...)
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				res.Body.Close()
				var end struct{ Type string }
				if res.StatusCode != http.StatusOK || lines < n || json.Unmarshal(lastLine(last), &end) != nil || end.Type != "end" {
					b.Fatalf("status %d, %d lines for %d events, last %q", res.StatusCode, lines, n, last)
				}
			}
			b.StopTimer()
			close(stop)
			wg.Wait()
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MB")
		})
	}
}

// lastLine is the last complete line of tail.
func lastLine(tail []byte) []byte {
	for len(tail) > 0 && tail[len(tail)-1] == '\n' {
		tail = tail[:len(tail)-1]
	}
	for i := len(tail) - 1; i >= 0; i-- {
		if tail[i] == '\n' {
			return tail[i+1:]
		}
	}
	return tail
}
