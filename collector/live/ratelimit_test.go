package live

import (
	"testing"
	"time"
)

func TestIPLimiter(t *testing.T) {
	if newIPLimiter(0) != nil {
		t.Fatal("0 must turn the limit off")
	}
	var off *ipLimiter
	if ok, _ := off.take("a", 1_000_000, time.Now()); !ok {
		t.Fatal("no limiter refused")
	}
	l := newIPLimiter(10) // burst 500: a full batch
	now := time.Unix(1_700_000_000, 0)
	if ok, _ := l.take("a", 499, now); !ok {
		t.Fatal("a batch within the burst was refused")
	}
	// A request or frame without events (hello, an empty collect) costs
	// one: it takes the last token, and the next is refused.
	if ok, _ := l.take("a", 0, now); !ok {
		t.Fatal("zero events (hello) were refused with a token left")
	}
	if ok, wait := l.take("a", 0, now); ok || wait != 100*time.Millisecond {
		t.Fatalf("zero events from an empty bucket: ok %v, wait %v; want refused, 100ms", ok, wait)
	}
	ok, wait := l.take("a", 20, now)
	if ok || wait != 2*time.Second {
		t.Fatalf("over the limit: ok %v, wait %v; want refused, 2s", ok, wait)
	}
	// The refused batch took nothing: after 2s exactly 20 fit.
	if ok, _ := l.take("a", 20, now.Add(2*time.Second)); !ok {
		t.Fatal("refused after the wait")
	}
	if ok, _ := l.take("b", 500, now); !ok {
		t.Fatal("another IP shares the bucket")
	}
	if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Fatalf("Retry-After for 1.5s = %d", got)
	}
	if got := retryAfterSeconds(time.Millisecond); got != 1 {
		t.Fatalf("Retry-After for 1ms = %d", got)
	}

	// Idle, refilled buckets go; a drained one stays until it refilled.
	l.take("c", 1, now.Add(30*time.Second))
	if l.size() != 3 {
		t.Fatalf("%d buckets, want 3", l.size())
	}
	later := now.Add(2*time.Minute + time.Second)
	l.take("d", 500, later)
	if l.size() != 1 {
		t.Fatalf("%d buckets after pruning, want 1 (d)", l.size())
	}
	l.take("e", 1, later.Add(61*time.Second))
	if l.size() != 1 {
		t.Fatalf("%d buckets, want 1 (e)", l.size())
	}

	// A bucket that has not refilled stays, idle or not: forgetting it
	// would hand its client a fresh burst. At 1/s a burst of 500 takes
	// over 8 minutes to refill.
	slow := newIPLimiter(1)
	slow.take("x", 500, now)
	slow.take("y", 1, now.Add(61*time.Second))
	if slow.size() != 2 {
		t.Fatalf("%d buckets, want 2: x dropped before it refilled", slow.size())
	}
	slow.take("y", 1, now.Add(10*time.Minute))
	if slow.size() != 1 {
		t.Fatalf("%d buckets, want 1: x refilled long ago", slow.size())
	}
}
