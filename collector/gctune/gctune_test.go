package gctune

import (
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// heapGoal is the heap size at which the next GC cycle starts.
func heapGoal() uint64 {
	m := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

// TestBallastSpacesCycles: with a ballast the next GC cycle starts only
// after about the ballast's size of new allocation (the heap goal is the
// live heap, ballast included, times two), where a small live heap
// otherwise collects every 4 MB. The goal is read from the runtime, so
// the test does not depend on how busy the machine is.
func TestBallastSpacesCycles(t *testing.T) {
	runtime.GC()
	without := heapGoal()
	b := Start(64<<20, func(string) string { return "" })
	defer b.Stop()
	runtime.GC() // the ballast counts as live from the next cycle on
	with := heapGoal()
	t.Logf("heap goal with a 64 MB ballast %d MB, without %d MB", with>>20, without>>20)
	if b.Size() != 64<<20 {
		t.Fatalf("ballast of %d bytes", b.Size())
	}
	if with < 2*64<<20 || with < without+64<<20 {
		t.Fatalf("heap goal %d MB with a 64 MB ballast (%d MB without): want at least 128 MB", with>>20, without>>20)
	}
}

// TestBallastNotResident: the ballast's pages are never touched, so they
// cost address space, not memory.
func TestBallastNotResident(t *testing.T) {
	before := rss(t)
	b := Start(128<<20, func(string) string { return "" })
	defer b.Stop()
	runtime.GC()
	if grew := rss(t) - before; grew > 32<<20 {
		t.Fatalf("a 128 MB ballast made the RSS grow by %d MB", grew>>20)
	}
}

// TestStartLeavesOperatorsChoice: GOGC in the environment, or no size,
// starts nothing.
func TestStartLeavesOperatorsChoice(t *testing.T) {
	if b := Start(32<<20, func(k string) string { return map[string]string{"GOGC": "50"}[k] }); b != nil {
		t.Fatal("a ballast with GOGC set")
	}
	if b := Start(0, func(string) string { return "" }); b != nil {
		t.Fatal("a ballast of no size")
	}
	var none *Ballast
	none.Stop()
	if none.Size() != 0 {
		t.Fatal("nil ballast has a size")
	}
}

// rss is this process's resident set size in bytes (Linux).
func rss(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatalf("the RSS is read from /proc (Linux): %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}
