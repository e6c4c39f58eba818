package gctune

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// churn allocates n bytes of garbage in 1 KB pieces (each stored in
// sink, so that it is on the heap) and returns how many GC cycles ran
// meanwhile.
func churn(n int, sink *[]byte) uint32 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < n/1024; i++ {
		*sink = make([]byte, 1024)
	}
	runtime.ReadMemStats(&after)
	return after.NumGC - before.NumGC
}

// TestBallastSpacesCycles: with a ballast, allocating the same garbage
// runs far fewer GC cycles than without (a small live heap otherwise
// collects every 4 MB).
func TestBallastSpacesCycles(t *testing.T) {
	runtime.GC()
	var sink []byte
	without := churn(64<<20, &sink)
	b := Start(64<<20, func(string) string { return "" })
	defer b.Stop()
	runtime.GC() // the ballast counts as live from the next cycle on
	with := churn(64<<20, &sink)
	t.Logf("with %d without %d", with, without)
	if b.Size() != 64<<20 {
		t.Fatalf("ballast of %d bytes", b.Size())
	}
	if with*4 > without {
		t.Fatalf("64 MB of garbage ran %d GC cycles with a 64 MB ballast and %d without: want at least 4 times fewer", with, without)
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
