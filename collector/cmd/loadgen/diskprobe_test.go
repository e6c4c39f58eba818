package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		var d []time.Duration
		for _, v := range n {
			d = append(d, time.Duration(v)*time.Millisecond)
		}
		return d
	}
	for _, c := range []struct {
		d    []time.Duration
		q    float64
		want string
	}{
		{nil, 0.99, "-"},
		{ms(7), 0.99, "7ms"},
		{ms(5, 1, 3, 2, 4), 0.5, "3ms"},
		{ms(100, 1, 2, 3, 4, 5, 6, 7, 8, 9), 0.99, "9ms"}, // nearest rank below
		{ms(100, 1, 2, 3, 4, 5, 6, 7, 8, 9), 1, "100ms"},
	} {
		in := append([]time.Duration(nil), c.d...)
		if got := quantile(c.d, c.q); got != c.want {
			t.Errorf("quantile(%v, %v) = %s, want %s", in, c.q, got, c.want)
		}
		for i := range in {
			if in[i] != c.d[i] {
				t.Fatalf("quantile reordered its input: %v", c.d)
			}
		}
	}
}

// The probe writes and syncs its block beside the data until its context
// ends, and reports each window once.
func TestDiskProbe(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	p, err := startDiskProbe(ctx, dir, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	got := waitTake(p, "disk sync p50 ")
	if !strings.HasPrefix(got, "disk sync p50 ") || !strings.Contains(got, " max ") {
		t.Fatalf("take() = %q, want the window's p50 and max", got)
	}
	cancel()
	time.Sleep(50 * time.Millisecond) // a round in flight ends
	p.take()
	time.Sleep(50 * time.Millisecond)
	if got := p.take(); got != "disk sync -" {
		t.Errorf("after its context ended the probe still ran: %q", got)
	}
	fi, err := os.Stat(filepath.Join(dir, "disk-probe"))
	if err != nil || fi.Size() != 4096 {
		t.Errorf("probe file: %v, %v; want one 4 KiB block", fi, err)
	}
}

// A probe whose writes fail says so instead of reporting timings.
func TestDiskProbeError(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p, err := startDiskProbe(ctx, dir, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.f.Close() // every write from now on fails
	p.mu.Unlock()
	if got := waitTake(p, "disk probe: "); !strings.HasPrefix(got, "disk probe: ") {
		t.Fatalf("take() = %q, want the probe's error", got)
	}
}

// waitTake takes the probe's windows until one starts with prefix, for up
// to 10 s, and returns the last.
func waitTake(p *diskProbe, prefix string) string {
	var got string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		if got = p.take(); strings.HasPrefix(got, prefix) {
			break
		}
	}
	return got
}

func TestStartDiskProbeMissingDir(t *testing.T) {
	if _, err := startDiskProbe(context.Background(), filepath.Join(t.TempDir(), "missing"), time.Second); err == nil {
		t.Fatal("a probe in a missing directory started")
	}
}
