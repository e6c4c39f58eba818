package maintain_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// clock is a settable clock shared by the store, the ingester and the
// trimmer.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time   { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time)  { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }
func at(s string) time.Time       { t, _ := time.Parse(time.RFC3339, s); return t }
func stamp(t time.Time) string    { return t.UTC().Format("2006-01-02T15:04:05.000Z07:00") }
func minutes(n int) time.Duration { return time.Duration(n) * time.Minute }

type env struct {
	t     *testing.T
	clock *clock
	s     *store.Store
	in    *ingest.Ingester
}

func newEnv(t *testing.T, start time.Time) *env {
	c := &clock{t: start}
	s := storetest.New(t, store.WithClock(c.Now))
	signer, err := identity.NewSigner(make([]byte, 32), 0, c.Now)
	if err != nil {
		t.Fatal(err)
	}
	// A visit timeout longer than the clock jumps: were the sweep to run,
	// it would end no visit, and no VisitEnded would join the hand counts.
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer, Now: c.Now, VisitTimeout: 100 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	return &env{t: t, clock: c, s: s, in: in}
}

// send collects events of one new visitor, each at its own time on the
// (correct) browser clock: name and url alternate as given.
func (e *env) send(events ...protocol.Event) {
	e.t.Helper()
	raw := make([]json.RawMessage, len(events))
	for i, ev := range events {
		raw[i], _ = json.Marshal(ev)
	}
	c := ingest.Client{VisitorID: ulid.Make().String(), VisitID: ulid.Make().String(), IP: "127.0.0.1"}
	res, err := e.in.Collect(context.Background(), c, stamp(e.clock.Now()), raw)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Ack.Rejected) > 0 || len(res.Ack.EventIDs) != len(events) {
		e.t.Fatalf("collect acked %+v", res.Ack)
	}
}

func ev(name, path string, t time.Time) protocol.Event {
	return protocol.Event{EventID: ulid.Make().String(), Name: name, Timestamp: stamp(t),
		PageID: ulid.Make().String(), URL: "https://shop.example" + path}
}

// rows returns the rollup rows of the given levels, one line each.
func (e *env) rows(where string, args ...any) string {
	e.t.Helper()
	var b strings.Builder
	for _, table := range []string{"stats_events", "stats_pages"} {
		key := map[string]string{"stats_events": "name", "stats_pages": "url"}[table]
		r, err := e.s.DB().Query(`SELECT level, bucket, `+key+`, bot, n FROM `+table+` WHERE `+where+` ORDER BY 1, 2, 3, 4`, args...)
		if err != nil {
			e.t.Fatal(err)
		}
		for r.Next() {
			var level, bucket, bot, n int64
			var k string
			if err := r.Scan(&level, &bucket, &k, &bot, &n); err != nil {
				e.t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %d %s %s %d %d\n", table, level, time.UnixMilli(bucket).UTC().Format(time.RFC3339), k, bot, n)
		}
		r.Close()
	}
	return b.String()
}

func (e *env) count(table, where string, args ...any) int {
	return storetest.Count(e.t, e.s, table, where, args...)
}

// TestTrim: through the ingest writer, in batches, the trimmer deletes
// the minute rows older than the minute horizon and the hour rows older
// than the hour horizon; newer minute rows, every day row and the
// totals of every period stay; the stats still equal hand counts.
func TestTrim(t *testing.T) {
	t0 := at("2026-11-20T10:00:00Z")
	e := newEnv(t, t0)
	// Three days before the trim: 6 page views and 3 clicks over 40
	// minutes across two hours (09:35 to 10:00).
	e.send(
		ev(protocol.EventPageEntered, "/a", t0.Add(-minutes(25))), // 09:35
		ev("Click", "/a", t0.Add(-minutes(24))),
		ev(protocol.EventPageEntered, "/b", t0.Add(-minutes(12))), // 09:48
		ev(protocol.EventPageEntered, "/a", t0.Add(-minutes(11))),
		ev("Click", "/a", t0.Add(-minutes(11))),
		ev(protocol.EventPageEntered, "/a", t0.Add(-minutes(1))), // 09:59
	)
	e.clock.Set(t0.Add(minutes(20)))
	e.send(
		ev(protocol.EventPageEntered, "/b", t0),                  // 10:00
		ev(protocol.EventPageEntered, "/b", t0.Add(minutes(15))), // 10:15
		ev("Click", "/b", t0.Add(minutes(15))),
	)
	// A 500-day-old hour row and day row, as an old database holds them.
	old := t0.Add(-500 * 24 * time.Hour).Truncate(24 * time.Hour).UnixMilli()
	storetest.Exec(t, e.s, `INSERT INTO stats_events (level, bucket, name, bot, n) VALUES (3600000, ?, 'Old', 0, 4), (86400000, ?, 'Old', 0, 4)`, old, old)

	t1 := t0.Add(3 * 24 * time.Hour) // 2026-11-23T10:00Z
	e.clock.Set(t1)
	// Within the minute horizon: 2 page views and a click.
	e.send(
		ev(protocol.EventPageEntered, "/a", t1.Add(-minutes(50))), // 09:10
		ev("Click", "/a", t1.Add(-minutes(50))),
		ev(protocol.EventPageEntered, "/c", t1.Add(-minutes(5))), // 09:55
	)

	minuteReach, hourReach := store.StatsReach(t1)
	if !minuteReach.Equal(at("2026-11-21T10:00:00Z")) {
		t.Fatalf("minute reach %s", minuteReach)
	}
	coarse := e.rows("level = 86400000 OR (level = 3600000 AND bucket >= ?)", hourReach.UnixMilli())
	recent := e.rows("level = 60000 AND bucket >= ?", minuteReach.UnixMilli())
	if !strings.Contains(recent, "stats_pages 60000 2026-11-23T09:55:00Z https://shop.example/c 0 1") ||
		e.count("stats_events", "level = 60000 AND bucket < ?", minuteReach.UnixMilli()) != 9 ||
		e.count("stats_pages", "level = 60000 AND bucket < ?", minuteReach.UnixMilli()) != 6 {
		t.Fatalf("the seed is not as planned:\n%s", e.rows("1"))
	}

	job, err := maintain.Rollups(maintain.RollupConfig{Store: e.s, Batch: 3})
	if err != nil {
		t.Fatal(err)
	}
	var steps []int
	for {
		n, err := round(e.s, e.in, job)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		steps = append(steps, n)
	}
	// 9 + 1 (the old hour) rows of stats_events and 6 of stats_pages, 3 of
	// each a step.
	if fmt.Sprint(steps) != "[6 6 3 1]" {
		t.Errorf("steps deleted %v rows; want [6 6 3 1]", steps)
	}
	if n := e.count("stats_events", "level = 60000 AND bucket < ?", minuteReach.UnixMilli()) +
		e.count("stats_pages", "level = 60000 AND bucket < ?", minuteReach.UnixMilli()); n != 0 {
		t.Errorf("%d minute rows older than the minute horizon are left", n)
	}
	if n := e.count("stats_events", "level = 3600000 AND bucket < ?", hourReach.UnixMilli()); n != 0 {
		t.Errorf("%d hour rows older than the hour horizon are left", n)
	}
	if got := e.rows("level = 60000 AND bucket >= ?", minuteReach.UnixMilli()); got != recent {
		t.Errorf("minute rows within the horizon changed:\n got %s\nwant %s", got, recent)
	}
	if got := e.rows("level = 86400000 OR (level = 3600000 AND bucket >= ?)", hourReach.UnixMilli()); got != coarse {
		t.Errorf("day or recent hour rows changed:\n got %s\nwant %s", got, coarse)
	}

	ctx := context.Background()
	f := func(since, until time.Time) collector.StatsFilter {
		return collector.StatsFilter{Since: since, Until: until, Bots: collector.BotsExclude}
	}
	// The whole time: every event, by hand 12 of which 8 page views.
	sum, err := e.s.Summary(ctx, f(t0.Add(-24*time.Hour), t1))
	if err != nil || sum.Events != 12 || sum.Pageviews != 8 {
		t.Errorf("summary of everything: %+v, %v; want 12 events, 8 page views", sum, err)
	}
	// 09:50 to 10:10 three days ago: past the minute horizon the edges
	// are the whole hours 09:00 and 11:00, so all 9 events count, 6 of
	// them page views (read by the minute, the trimmed rows would give 0).
	sum, err = e.s.Summary(ctx, f(t0.Add(-minutes(10)), t0.Add(minutes(10))))
	if err != nil || sum.Events != 9 || sum.Pageviews != 6 {
		t.Errorf("summary 09:50 to 10:10 three days ago: %+v, %v; want the hours 09:00-11:00: 9 events, 6 page views", sum, err)
	}
	// Within the horizon the edges stay minutes: 09:50 to 10:00 today.
	sum, err = e.s.Summary(ctx, f(t1.Add(-minutes(10)), t1))
	if err != nil || sum.Events != 1 || sum.Pageviews != 1 {
		t.Errorf("summary of the last 10 minutes: %+v, %v; want 1 event, 1 page view", sum, err)
	}
	pts, err := e.s.Timeseries(ctx, f(t0.Add(-minutes(30)), t0.Add(minutes(30))), "events", "", time.Hour)
	if err != nil || fmt.Sprint(pts) != fmt.Sprint([]collector.StatsPoint{
		{T: at("2026-11-20T09:00:00Z"), Value: 6}, {T: at("2026-11-20T10:00:00Z"), Value: 3}}) {
		t.Errorf("hourly events three days ago: %v, %v; want 6 at 09:00, 3 at 10:00", pts, err)
	}
	pts, err = e.s.Timeseries(ctx, f(t1.Add(-minutes(51)), t1.Add(-minutes(48))), "pageviews", "", time.Minute)
	if err != nil || fmt.Sprint(pts) != fmt.Sprint([]collector.StatsPoint{
		{T: at("2026-11-23T09:09:00Z")}, {T: at("2026-11-23T09:10:00Z"), Value: 1}, {T: at("2026-11-23T09:11:00Z")}}) {
		t.Errorf("page views by minute within the horizon: %v, %v", pts, err)
	}
	items, err := e.s.Breakdown(ctx, f(t0.Add(-minutes(10)), t1), "page", 10)
	if err != nil || fmt.Sprint(items) != fmt.Sprint([]collector.StatsItem{
		{Value: "https://shop.example/a", Count: 4}, {Value: "https://shop.example/b", Count: 3}, {Value: "https://shop.example/c", Count: 1}}) {
		t.Errorf("page breakdown: %v, %v", items, err)
	}
	// A minute series reaching past the horizon is refused, naming it.
	_, err = e.s.Timeseries(ctx, f(t0, t0.Add(time.Hour)), "events", "", time.Minute)
	if collector.ErrorCode(err) != collector.EINVALID || !strings.Contains(err.Error(), "48h") {
		t.Errorf("a minute series three days ago: %v; want EINVALID naming the 48h horizon", err)
	}
	_, err = e.s.Timeseries(ctx, f(t1.Add(-450*24*time.Hour), t1.Add(-440*24*time.Hour)), "events", "", time.Hour)
	if collector.ErrorCode(err) != collector.EINVALID || !strings.Contains(err.Error(), "400d") {
		t.Errorf("an hour series 450 days ago: %v; want EINVALID naming the 400d horizon", err)
	}
	// Visits come from the visits, not the rollups: any interval.
	if _, err := e.s.Timeseries(ctx, f(t0, t0.Add(time.Hour)), "visits", "", time.Minute); err != nil {
		t.Errorf("a minute series of visits three days ago: %v", err)
	}
}

// TestRunTrimsByItself: started, the job runs rounds until nothing is left past the
// horizons, pausing between batches, and stops with its context.
func TestRunTrimsByItself(t *testing.T) {
	t0 := at("2026-11-20T10:00:00Z")
	e := newEnv(t, t0)
	var evs []protocol.Event
	for i := range 40 {
		evs = append(evs, ev(protocol.EventPageEntered, fmt.Sprintf("/p%d", i), t0.Add(-minutes(i))))
	}
	e.send(evs...)
	e.clock.Set(t0.Add(72 * time.Hour))
	job, err := maintain.Rollups(maintain.RollupConfig{Store: e.s, Batch: 7, Pause: time.Millisecond, Idle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := maintain.Start(context.Background(), maintain.Config{Writer: e.in, Store: e.s}, job)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for e.count("stats_pages", "level = 60000")+e.count("stats_events", "level = 60000") > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("minute rows left: %d", e.count("stats_pages", "level = 60000"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.Stop()
	if n := e.count("stats_pages", "level = 3600000"); n != 40 {
		t.Errorf("%d hour rows of pages; want 40", n)
	}
}
