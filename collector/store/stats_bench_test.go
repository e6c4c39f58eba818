package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// BenchmarkStats answers each stats call over 1,000,000 events (50,000
// visits of 20 events, 4 pages each, from 30,000 visitors, over 30 days)
// and reports the p50 and p95 latency of each (target: p95 <= 200 ms).
// make bench runs it.
func BenchmarkStats(b *testing.B) {
	s := storetest.New(b)
	ctx := context.Background()
	end := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	seedMillion(b, s, end)
	f := collector.StatsFilter{Since: end.Add(-30 * 24 * time.Hour), Until: end, Bots: collector.BotsExclude}
	calls := map[string]func() error{
		"summary": func() error { _, err := s.Summary(ctx, f); return err },
		"timeseries-visits-hour": func() error {
			_, err := s.Timeseries(ctx, f, "visits", "", time.Hour)
			return err
		},
		"timeseries-events-hour": func() error {
			_, err := s.Timeseries(ctx, f, "events", "", time.Hour)
			return err
		},
		"breakdown-page":    func() error { _, err := s.Breakdown(ctx, f, "page", 10); return err },
		"breakdown-browser": func() error { _, err := s.Breakdown(ctx, f, "browser", 10); return err },
		"breakdown-event":   func() error { _, err := s.Breakdown(ctx, f, "event", 10); return err },
		"live": func() error {
			_, err := s.Live(ctx, end.Add(-5*time.Minute), nil, 100)
			return err
		},
	}
	for name, call := range calls {
		b.Run(name, func(b *testing.B) {
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				if err := call(); err != nil {
					b.Fatal(err)
				}
				took = append(took, time.Since(start))
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(took[len(took)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// seedMillion writes the data set with SQL alone (a few seconds), then
// the rollup as ingest would have kept it.
func seedMillion(b *testing.B, s *store.Store, end time.Time) {
	b.Helper()
	const visits, perVisit = 50_000, 20
	start := end.Add(-30 * 24 * time.Hour).UnixMilli()
	gap := (30 * 24 * time.Hour).Milliseconds() / visits
	for _, q := range []string{
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 49999)
		INSERT INTO visits (visit_id, visitor_id, session_id, state, started_at, last_seen_at, ended_at, landing_url,
			browser, os, device_type, bot, referrer_type, utm_source, country, reached, was_verified)
		SELECT printf('V%025d', i), printf('R%025d', i % 30000), printf('S%025d', i),
			CASE i % 10 WHEN 0 THEN 'authenticated' WHEN 1 THEN 'recognized' ELSE 'anonymous' END,
			?1 + i * ?2, ?1 + i * ?2 + 600000, ?1 + i * ?2 + 2400000, 'https://shop.example/p/' || (i % 500),
			CASE i % 4 WHEN 0 THEN 'Chrome' WHEN 1 THEN 'Safari' WHEN 2 THEN 'Firefox' ELSE 'Edge' END,
			CASE i % 3 WHEN 0 THEN 'Windows' WHEN 1 THEN 'iOS' ELSE 'Android' END,
			CASE i % 3 WHEN 1 THEN 'mobile' ELSE 'desktop' END, i % 25 = 0,
			CASE i % 5 WHEN 0 THEN 'search' WHEN 1 THEN 'social' ELSE 'direct' END,
			CASE i % 7 WHEN 0 THEN 'newsletter' ELSE '' END,
			CASE i % 4 WHEN 0 THEN 'DE' WHEN 1 THEN 'FR' ELSE 'US' END,
			CASE i % 10 WHEN 0 THEN 'authenticated' WHEN 1 THEN 'recognized' ELSE 'anonymous' END, i % 10 < 2
		FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199999)
		INSERT INTO pages (page_id, visit_id, url, title, entered_at)
		SELECT printf('P%025d', i), printf('V%025d', i / 4), 'https://shop.example/p/' || (i % 997), 'Product',
			?1 + (i / 4) * ?2 + (i % 4) * 60000 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999999)
		INSERT INTO events (event_id, visit_id, visitor_id, session_id, page_id, name, category,
			timestamp, corrected_at, received_at, url, data, visit_key)
		SELECT printf('E%025d', i), printf('V%025d', i / 20), printf('R%025d', (i / 20) % 30000), printf('S%025d', i / 20),
			printf('P%025d', i / 5), CASE WHEN i % 20 = 0 THEN 'VisitStarted' WHEN i % 5 = 1 THEN 'PageEntered'
				WHEN i % 5 = 2 THEN 'PageExited' ELSE 'Click' END,
			CASE WHEN i % 5 < 3 THEN 'system' ELSE 'business' END,
			?1 + (i / 20) * ?2 + (i % 20) * 15000, ?1 + (i / 20) * ?2 + (i % 20) * 15000, ?1 + (i / 20) * ?2 + (i % 20) * 15000,
			'https://shop.example/p/' || (i % 997), '{"n":1}', (SELECT visit_key FROM visits WHERE visit_id = printf('V%025d', i / 20)) FROM n`,
		`INSERT INTO stats_events (level, bucket, name, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, e.name, v.bot, count(*)
		FROM events e JOIN visits v ON v.visit_id = e.visit_id,
			(SELECT 60000 AS size UNION ALL SELECT 3600000 UNION ALL SELECT 86400000) l
		WHERE true GROUP BY 1, 2, 3, 4`,
		`INSERT INTO stats_pages (level, bucket, url, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, e.url, v.bot, count(*)
		FROM events e JOIN visits v ON v.visit_id = e.visit_id,
			(SELECT 60000 AS size UNION ALL SELECT 3600000 UNION ALL SELECT 86400000) l
		WHERE e.name = 'PageEntered' GROUP BY 1, 2, 3, 4`,
		`ANALYZE`,
	} {
		if _, err := s.DB().Exec(q, start, gap); err != nil {
			b.Fatalf("seed: %v\n%s", err, q)
		}
	}
}
