package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// The export pages through the tables by itself: every row exactly once,
// in order, across many pages, and only those in range.
func TestExportPages(t *testing.T) {
	s := storetest.New(t)
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const visits, per = 2101, 3 // more than one page of visits, three of events
	storetest.SeedBulk(t, s, t0, visits, per)
	ctx := context.Background()

	var got []string
	if err := s.ExportEvents(ctx, collector.ExportFilter{}, func(e *collector.Event) error {
		got = append(got, e.EventID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != visits*per {
		t.Fatalf("%d events exported, want %d", len(got), visits*per)
	}
	for i, id := range got {
		if id != storetest.ID(8, i) {
			t.Fatalf("event %d is %s, want %s (stored order, each once)", i, id, storetest.ID(8, i))
		}
	}

	var vs []string
	if err := s.ExportVisits(ctx, collector.ExportFilter{}, func(v *collector.Visit) error {
		if v.EventCount != per {
			t.Fatalf("visit %s: eventCount %d", v.VisitID, v.EventCount)
		}
		vs = append(vs, v.VisitID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(vs) != visits {
		t.Fatalf("%d visits exported, want %d", len(vs), visits)
	}
	for i, id := range vs {
		if id != storetest.ID(7, i) {
			t.Fatalf("visit %d is %s, want %s (oldest first, each once)", i, id, storetest.ID(7, i))
		}
	}

	// Visit n starts at t0+n s; [t0+100s, t0+2050s) holds visits 100..2049.
	f := collector.ExportFilter{Since: t0.Add(100 * time.Second), Until: t0.Add(2050 * time.Second)}
	n := 0
	if err := s.ExportVisits(ctx, f, func(v *collector.Visit) error {
		if v.VisitID != storetest.ID(7, 100+n) {
			t.Fatalf("ranged visit %d is %s", n, v.VisitID)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1950 {
		t.Errorf("%d visits in range, want 1950", n)
	}
	n = 0
	if err := s.ExportEvents(ctx, f, func(e *collector.Event) error {
		if e.CorrectedAt.Before(f.Since) || !e.CorrectedAt.Before(f.Until) {
			t.Fatalf("event %s at %s is out of range", e.EventID, e.CorrectedAt)
		}
		n++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 1950*per {
		t.Errorf("%d events in range, want %d", n, 1950*per)
	}
}

func TestExportStops(t *testing.T) {
	s := storetest.New(t)
	storetest.SeedBulk(t, s, time.Now(), 10, 2)
	stop := errors.New("client went away")
	n := 0
	err := s.ExportEvents(context.Background(), collector.ExportFilter{}, func(*collector.Event) error {
		n++
		return stop
	})
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("err %v after %d events; want the callback's error after 1", err, n)
	}
	now := time.Now()
	err = s.ExportVisits(context.Background(), collector.ExportFilter{Since: now, Until: now.Add(-time.Second)}, func(*collector.Visit) error { return nil })
	wantCode(t, err, collector.EINVALID)
}
