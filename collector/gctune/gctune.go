// Package gctune keeps the Go garbage collector from running for every
// few megabytes allocated when the live heap is small but dense.
//
// The collector's live heap at rest is a few megabytes, most of it the
// user-agent parser's trie and the crawler list's compiled expressions:
// about 120,000 small objects full of pointers, which every GC cycle must
// mark. With GOGC's default of 100 a cycle starts each time the program has
// allocated as much as is live, so under ingest load (a few KB per
// request) the process ran about 10 cycles a second, and marking that
// static heap cost more CPU than the checks of the ingest path
// (docs/benchmarks-collect.md). A Tuner gives the heap a floor of
// headroom instead: after each cycle it sets the GC percentage so that the
// next cycle starts no sooner than Headroom bytes of allocation later, and
// never lower than the default. A large live heap (thousands of open
// sockets) keeps the default percentage and the memory it implies; a small
// one trades a bounded amount of memory (at most Headroom of garbage) for
// far fewer cycles.
package gctune

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// DefaultHeadroom is the floor the collector runs with: 32 MiB of
// allocation between cycles, about 4,000 /v1/collect requests.
const DefaultHeadroom = 32 << 20

// basePercent is GOGC's default, the percentage the Tuner never goes
// below.
const basePercent = 100

// Tuner adjusts the GC percentage after each cycle. Only one should run in
// a process: the percentage is the process's.
type Tuner struct {
	headroom uint64
	mu       sync.Mutex
	stopped  bool
	percent  int // last set
	sample   []metrics.Sample
	// set is debug.SetGCPercent; injectable for tests.
	set func(int) int
}

// Start starts a Tuner with the given headroom floor in bytes and sets the
// percentage for the heap as it is now. It returns nil, and changes
// nothing, when the operator chose a GC setting (GOGC in the environment,
// read through getenv) or headroom is 0.
func Start(headroom uint64, getenv func(string) string) *Tuner {
	if headroom == 0 || getenv("GOGC") != "" {
		return nil
	}
	t := &Tuner{headroom: headroom, set: debug.SetGCPercent,
		sample: []metrics.Sample{{Name: "/gc/heap/live:bytes"}}}
	t.adjust()
	t.arm()
	return t
}

// Percent is the GC percentage the Tuner set last.
func (t *Tuner) Percent() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.percent
}

// Stop restores the default percentage; the Tuner does nothing after.
func (t *Tuner) Stop() {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		t.stopped = true
		t.set(basePercent)
	}
}

// sentinel is garbage whose cleanup runs once a GC cycle has found it
// unreachable: the Tuner's hook after each cycle. It holds a pointer so
// that the tiny allocator never batches it with other objects, which
// would delay the cleanup.
type sentinel struct{ _ *Tuner }

// arm makes a new sentinel, whose cleanup adjusts the percentage and arms
// the next one.
func (t *Tuner) arm() {
	s := &sentinel{}
	runtime.AddCleanup(s, func(t *Tuner) {
		if t.adjust() {
			t.arm()
		}
	}, t)
}

// adjust sets the percentage for the live heap the last cycle marked;
// false once the Tuner is stopped.
func (t *Tuner) adjust() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	metrics.Read(t.sample)
	p := Percent(t.sample[0].Value.Uint64(), t.headroom)
	if p != t.percent {
		t.set(p)
		t.percent = p
	}
	return true
}

// Percent is the GC percentage that leaves at least headroom bytes of
// allocation between cycles above a live heap of live bytes, and at least
// the default 100.
func Percent(live, headroom uint64) int {
	if live == 0 {
		live = 1
	}
	p := (headroom*100 + live - 1) / live
	if p < basePercent {
		return basePercent
	}
	// A percentage past this means a live heap of a few hundred KB (the
	// moment after start): the floor holds anyway.
	return int(min(p, 1<<16))
}
