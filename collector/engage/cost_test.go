package engage

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
)

// TestEventCostsNoAllocation applies events to a visit with 100 rules on
// them (half comparing the event's data, half counting the events, as
// BenchmarkCollectEngage): once the visit's state has grown, an event
// allocates nothing, its data read where it lies rather than decoded
// (docs/engagement.md, "Cost").
func TestEventCostsNoAllocation(t *testing.T) {
	e := New(Config{})
	e.SetRules(benchRules(t), nil)
	s := e.snap.Load()
	ctx := context.Background()
	ev := &Event{VisitID: "v1", VisitorID: "x", Name: "Click", Data: `{"button": "buy", "n": 1}`, At: 1}
	batch := []Event{*ev, *ev, *ev}
	for range 20 {
		e.batch(ctx, s, batch)
	}
	if n := testing.AllocsPerRun(200, func() {
		for i := range batch {
			batch[i].At++
		}
		e.batch(ctx, s, batch)
	}); n != 0 {
		t.Errorf("a batch of events allocates %v times, want 0", n)
	}
	other := []Event{{VisitID: "v1", Name: "Scroll", Data: `{"n": 5000}`, At: 2}}
	if n := testing.AllocsPerRun(200, func() { e.batch(ctx, s, other) }); n != 0 {
		t.Errorf("an event no rule watches allocates %v times, want 0", n)
	}
}

// TestVisitStateBytes bounds the rules' state an open visit keeps, with
// the 100 rules of TestEventCostsNoAllocation and 30 events a visit
// (docs/engagement.md, "Cost"): the visit, its slots and its count rings,
// measured on the heap over 2,000 visits.
func TestVisitStateBytes(t *testing.T) {
	e := New(Config{})
	e.SetRules(benchRules(t), nil)
	s := e.snap.Load()
	ctx := context.Background()
	const visits, perVisit = 2000, 30
	ids := make([]string, visits)
	for i := range ids {
		ids[i] = fmt.Sprintf("visit%06d", i)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for _, id := range ids {
		for j := range perVisit {
			ev := &Event{VisitID: id, VisitorID: "x", Name: "Click", Data: `{"button": "buy", "n": 1}`, At: int64(j + 1)}
			e.batch(ctx, s, []Event{*ev})
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / visits
	t.Logf("%d bytes of rule state per open visit (100 rules, %d events)", per, perVisit)
	if per > 1024 {
		t.Errorf("%d bytes per open visit, want at most 1 KiB", per)
	}
	runtime.KeepAlive(e)
}

// benchRules are 100 rules on Click, as BenchmarkCollectEngage's: half
// compare the event's data, half count the events.
func benchRules(t *testing.T) []*Rule { return benchRulesOn(t, 100, "Click") }

// benchRulesOn are n rules on events named name: half compare the
// event's data, half count the events.
func benchRulesOn(tb testing.TB, n int, name string) []*Rule {
	var rules []*Rule
	for i := range n {
		cond := fmt.Sprintf(`{"event": {"name": %q, "data": {"/n": {"gte": %d}}}}`, name, 1000+i)
		if i%2 == 1 {
			cond = fmt.Sprintf(`{"count": {"atLeast": %d, "within": "10m", "of": {"event": {"name": %q}}}}`, 3+i%7, name)
		}
		r, err := ParseRule([]byte(`{"name": "rule", "when": [` + cond + `, {"page": {"category": "products"}}],
		 "then": {"offer": {"channel": "chat"}}}`))
		if err != nil {
			tb.Fatal(err)
		}
		r.ID = fmt.Sprint("r", i)
		rules = append(rules, r)
	}
	return rules
}

// TestIndexKeepsTriggers lists, for each event name, the rules the index
// gives when every matcher of the name is hit: those the name can make
// true and those with a dwell, in order; and each matcher lists the rules
// watching it in order, each once.
func TestIndexKeepsTriggers(t *testing.T) {
	bodies := []string{
		`[{"event": {"name": "A"}}]`,
		`[{"dwell": {"on": "page", "atLeast": "5s"}}]`,
		`[{"page": {"category": "p"}}, {"visit": {"state": "anonymous"}}]`,
		`[{"count": {"atLeast": 2, "within": "1m", "of": {"event": {"name": "B"}}}}, {"event": {"name": "A"}}]`,
		`[{"count": {"atLeast": 2, "within": "1m", "of": {"page": {"category": "p"}}}}]`,
		`[{"event": {"name": "C"}}, {"dwell": {"on": "visit", "atLeast": "5s"}}, {"dwell": {"on": "page", "atLeast": "9s"}}]`,
		`[{"event": {"name": "A"}}, {"count": {"atLeast": 3, "within": "1m", "of": {"event": {"name": "A"}}}}]`,
	}
	var rules []*Rule
	for i, b := range bodies {
		r, err := ParseRule([]byte(`{"name": "r", "when": ` + b + `, "then": {"offer": {"channel": "chat"}}}`))
		if err != nil {
			t.Fatal(err)
		}
		r.ID = fmt.Sprint(i)
		rules = append(rules, r)
	}
	x := newIndex(rules)
	for name, want := range map[string]string{"A": "[0 1 3 5 6]", "B": "[1 3 5]", "C": "[1 5]",
		"PageEntered": "[1 2 4 5]", "Other": "[1 5]"} {
		var pos []int32
		for _, i := range x.watch[name] {
			pos = append(pos, x.matchers[i].rules...)
		}
		for _, r := range x.dwell {
			pos = append(pos, r.pos)
		}
		slices.Sort(pos)
		var ids []string
		for _, p := range slices.Compact(pos) {
			ids = append(ids, x.all[p].ID)
		}
		if got := fmt.Sprint(ids); got != want {
			t.Errorf("%s: rules %s, want %s", name, got, want)
		}
	}
	for _, m := range x.matchers {
		if m.key == "event\x00A\x00" && fmt.Sprint(m.rules) != "[0 3 6]" {
			t.Errorf("the rules watching event A: %v, want [0 3 6]", m.rules)
		}
	}
}

// BenchmarkEventCost is the engine's own part of an event's cost, with
// the 100 rules of TestEventCostsNoAllocation on it (half comparing its
// data, half counting it, so that 50 rules may fire on every event) and
// with the same rules on events of another name; batches of five events
// of one visit, as ingest commits them.
func BenchmarkEventCost(b *testing.B) {
	for _, name := range []string{"Click", "Scroll"} {
		b.Run(name, func(b *testing.B) {
			e := New(Config{})
			e.SetRules(benchRulesOn(b, 100, name), nil)
			s := e.snap.Load()
			ctx := context.Background()
			const visits = 1000
			batches := make([][]Event, visits)
			for i := range batches {
				batches[i] = make([]Event, 5)
				for j := range batches[i] {
					batches[i][j] = Event{VisitID: fmt.Sprintf("visit%06d", i), VisitorID: "x", Name: "Click",
						Data: `{"button":"buy","n":1}`, At: 1}
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += 5 {
				evs := batches[(i/5)%visits]
				for j := range evs {
					evs[j].At = int64(i + j + 1)
				}
				e.batch(ctx, s, evs)
			}
		})
	}
}

// TestRingKeepsLatest checks a count ring against the whole list of the
// times added: its n-th latest, for every n up to its length, at every
// step of a few turns.
func TestRingKeepsLatest(t *testing.T) {
	for _, size := range []int{1, 2, 3, 7} {
		var w ring
		var all []int64
		for i := range int64(4*size + 1) {
			w.add(i+1, size)
			all = append(all, i+1)
			for n := 1; n <= size; n++ {
				got, full := w.nth(n)
				if want := len(all) >= n; full != want || full && got != all[len(all)-n] {
					t.Fatalf("size %d after %d: %d-th latest %d (%v), want %d", size, len(all), n, got, full, all[max(0, len(all)-n)])
				}
			}
			if got := w.ordered(); !slices.Equal(got, all[max(0, len(all)-size):]) {
				t.Fatalf("size %d after %d: ordered %v", size, len(all), got)
			}
		}
	}
}
