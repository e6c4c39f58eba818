package gctune

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// TestPercent: the percentage leaves the headroom above a small live heap
// and never goes below the default for a large one.
func TestPercent(t *testing.T) {
	for _, c := range []struct {
		live, headroom uint64
		want           int
	}{
		{9 << 20, 32 << 20, 356},   // the collector at rest: 32 MiB / 9 MiB, rounded up
		{32 << 20, 32 << 20, 100},  // the floor and the default meet
		{200 << 20, 32 << 20, 100}, // thousands of sockets: the default
		{0, 32 << 20, 1 << 16},     // nothing live yet: capped
		{1 << 20, 1 << 20, 100},
	} {
		if got := Percent(c.live, c.headroom); got != c.want {
			t.Errorf("Percent(%d, %d) = %d, want %d", c.live, c.headroom, got, c.want)
		}
	}
}

// TestStartLeavesOperatorsChoice: GOGC in the environment, or no
// headroom, starts nothing and changes nothing.
func TestStartLeavesOperatorsChoice(t *testing.T) {
	before := debug.SetGCPercent(77)
	defer debug.SetGCPercent(before)
	if tu := Start(32<<20, func(k string) string { return map[string]string{"GOGC": "50"}[k] }); tu != nil {
		tu.Stop()
		t.Fatal("a Tuner started with GOGC set")
	}
	if tu := Start(0, func(string) string { return "" }); tu != nil {
		tu.Stop()
		t.Fatal("a Tuner started with no headroom")
	}
	if p := debug.SetGCPercent(77); p != 77 {
		t.Fatalf("GC percent changed to %d", p)
	}
}

// TestTunerFollowsTheLiveHeap: on a real heap, the Tuner raises the
// percentage over a small live heap, comes back to the default after each
// GC cycle once the live heap is large, and restores the default on Stop.
func TestTunerFollowsTheLiveHeap(t *testing.T) {
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	const headroom = 64 << 20
	tu := Start(headroom, func(string) string { return "" })
	if tu == nil {
		t.Fatal("no Tuner")
	}
	defer tu.Stop()
	waitPercent := func(ok func(int) bool, what string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(tu.Percent()) {
			if time.Now().After(deadline) {
				t.Fatalf("percent %d, want %s", tu.Percent(), what)
			}
			runtime.GC()
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The test binary's live heap is a few MB: far more than 100 %.
	waitPercent(func(p int) bool { return p > 400 }, "> 400 over a small heap")
	if p := debug.SetGCPercent(tu.Percent()); p != tu.Percent() {
		t.Fatalf("the runtime has %d, the Tuner says %d", p, tu.Percent())
	}
	big := make([]byte, 2*headroom) // live across the cycles below
	for i := range big {
		big[i] = byte(i)
	}
	waitPercent(func(p int) bool { return p == 100 }, "100 over a large heap")
	runtime.KeepAlive(big)
	tu.Stop()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("after Stop the percent is %d, want 100", p)
	}
}
