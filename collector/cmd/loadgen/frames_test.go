package main

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestFrameMaker: the frames written in place are events frames of new,
// valid ids and the time given, and an ack counts only the events it
// names as stored; one that leaves an event out, or names another, fails
// the run.
func TestFrameMaker(t *testing.T) {
	page := ulid.Make().String()
	m := newFrameMaker(page, 3, rand.New(rand.NewPCG(1, 2)))
	seen := map[string]bool{}
	now := time.Date(2026, 12, 7, 10, 0, 0, 123e6, time.UTC)
	var ids []string
	for f := range 3 {
		var ev protocol.Events
		if err := json.Unmarshal(m.next(now.Add(time.Duration(f)*time.Second)), &ev); err != nil {
			t.Fatal(err)
		}
		want := now.Add(time.Duration(f) * time.Second).Format(rfc3339Milli)
		if ev.Type != protocol.TypeEvents || ev.SentAt != want || len(ev.Events) != 3 {
			t.Fatalf("frame %d: %+v", f, ev)
		}
		ids = ids[:0]
		for _, e := range ev.Events {
			u, err := ulid.ParseStrict(e.EventID)
			if err != nil || !protocol.IsULID(e.EventID) || seen[e.EventID] || e.Timestamp != want || e.PageID != page ||
				u.Time() != uint64(now.Add(time.Duration(f)*time.Second).UnixMilli()) {
				t.Fatalf("frame %d: event %+v (%v, seen %v)", f, e, err, seen[e.EventID])
			}
			seen[e.EventID] = true
			ids = append(ids, e.EventID)
		}
	}
	ack := func(a protocol.Ack) []byte { b, _ := json.Marshal(a); return b }
	// The collector's ack of a frame stored whole is the kept one, so
	// that it is checked by one comparison.
	if got := ack(protocol.Ack{Type: "ack", EventIDs: ids, Rejected: []protocol.Rejection{}}); string(got) != string(m.ack) {
		t.Fatalf("kept ack %s, the collector's %s", m.ack, got)
	}
	for _, tc := range []struct {
		name string
		ack  []byte
		n    int
		err  string
	}{
		{"all, in order", ack(protocol.Ack{Type: "ack", EventIDs: ids, Rejected: []protocol.Rejection{}}), 3, ""},
		{"all, another order", ack(protocol.Ack{Type: "ack", EventIDs: []string{ids[2], ids[0], ids[1]}, Rejected: []protocol.Rejection{}}), 3, ""},
		{"one rejected", ack(protocol.Ack{Type: "ack", EventIDs: ids[:2], Rejected: []protocol.Rejection{{EventID: ids[2], Code: "x"}}}), 2, ""},
		{"one missing", ack(protocol.Ack{Type: "ack", EventIDs: ids[:2], Rejected: []protocol.Rejection{}}), 0, "does not name event " + ids[2]},
		{"one more", ack(protocol.Ack{Type: "ack", EventIDs: append(ids[:3:3], ulid.Make().String()), Rejected: []protocol.Rejection{}}), 0, "names 4 events"},
		{"not JSON", []byte(`{"type":"ack",`), 0, "ack:"},
	} {
		n, err := m.acked(tc.ack)
		if n != tc.n || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %d, %v; want %d, %q", tc.name, n, err, tc.n, tc.err)
		}
	}
}

// TestLoadAgainstCollector runs a short back-to-back load on a real
// collector: every ack must name the frame's events, and the acked events
// must be the collector's stored events.
func TestLoadAgainstCollector(t *testing.T) {
	col := collectortest.Start(t, "--allowed-origins", "*", "--rate-limit", "0")
	res, err := load([]string{col.Addr()}, 4, 5, 0, 700*time.Millisecond, 0)
	if err != nil {
		t.Fatal(err)
	}
	if res.rate <= 0 {
		t.Fatalf("no events acked: %+v", res)
	}
}
