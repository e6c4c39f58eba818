// Package gctune keeps the Go garbage collector from running for every
// few megabytes allocated when the live heap is small but dense.
//
// The collector's live heap at rest is about 9 MB, most of it the
// user-agent parser's trie and the crawler list's compiled expressions:
// about 120,000 small objects full of pointers, which every GC cycle must
// mark. With GOGC's default of 100 a cycle starts each time the program
// has allocated as much as is live, so under /v1/collect load (a few KB
// per request) the process ran about 10 cycles a second, and marking that
// static heap cost more CPU than the ingest path's checks
// (docs/benchmarks-collect.md).
//
// A Ballast adds a fixed amount to what the GC counts as live: one byte
// slice with no pointers, which a cycle marks as a single object without
// reading it, and which the program never touches, so that the kernel
// never backs its pages with memory. The next cycle then starts after
// live + ballast bytes of allocation instead of live: with 32 MiB, after
// about 41 MB instead of 9 MB under load. The garbage the process may hold
// grows by the ballast at most, whatever the heap's size; a large live
// heap (thousands of open sockets) barely notices it. A GC percentage set
// after each cycle would do the same without the slice, but between a
// cycle that found the heap grown and the callback that lowers the
// percentage again, the runtime would aim at the old percentage of the new
// heap.
package gctune

import "runtime"

// DefaultBallast is what the collector runs with: 32 MiB, about 4,000
// /v1/collect requests between cycles.
const DefaultBallast = 32 << 20

// Ballast holds the slice; keep it reachable (Stop at exit does).
type Ballast struct {
	b []byte
}

// Start allocates a ballast of n bytes. It returns nil, and allocates
// nothing, when the operator chose a GC setting (GOGC in the environment,
// read through getenv) or n is 0.
func Start(n int, getenv func(string) string) *Ballast {
	if n <= 0 || getenv("GOGC") != "" {
		return nil
	}
	return &Ballast{b: make([]byte, n)}
}

// Size is the ballast's size in bytes (0 for none).
func (b *Ballast) Size() int {
	if b == nil {
		return 0
	}
	return len(b.b)
}

// Stop lets the GC reclaim the ballast.
func (b *Ballast) Stop() {
	if b == nil {
		return
	}
	runtime.KeepAlive(b.b)
	b.b = nil
}
