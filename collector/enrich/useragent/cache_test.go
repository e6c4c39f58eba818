package useragent

import (
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func (c *agentCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cur) + len(c.old)
}

// A header in use stays cached through a flood of one-off headers, and the
// flood does not grow the cache past its bound. The cache is made small
// here so that the flood turns its generations many times.
func TestCacheKeepsHeadersInUse(t *testing.T) {
	const size = 100
	u := New()
	u.cache = newAgentCache(size)
	chrome := realAgents[0].ua
	want := u.Parse(chrome)
	for i := range 20 * size {
		u.Parse("one-off/" + strconv.Itoa(i))
		if i%(size/2) == 0 {
			// The next visit with the common header: the cache must
			// still have it.
			got, ok := u.cache.get(chrome)
			if !ok {
				t.Fatalf("after %d one-off headers the common one is no longer cached", i+1)
			}
			if got != want {
				t.Fatalf("cached %+v, want %+v", got, want)
			}
		}
	}
	if n := u.cache.len(); n > 2*size {
		t.Errorf("the cache holds %d headers, want at most %d", n, 2*size)
	}
}

// What the cache keeps of a header is at most maxUserAgent bytes: a slice
// of a megabyte header would keep the whole header alive.
func TestCacheDoesNotKeepWholeHeaders(t *testing.T) {
	u := New()
	const headers, size = 64, 1 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range headers {
		ua := strconv.Itoa(i) + " Mozilla/5.0 " + strings.Repeat("a", size)
		u.Parse(ua)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	if kept := int64(after.HeapAlloc) - int64(before.HeapAlloc); kept > 8<<20 {
		t.Errorf("%d headers of 1 MiB parsed, %d MiB still in use", headers, kept>>20)
	}
	if n := u.cache.len(); n != headers {
		t.Errorf("the cache holds %d headers, want %d", n, headers)
	}
}
