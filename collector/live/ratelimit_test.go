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
	if ok, _ := off.take("192.0.2.1", 1_000_000, time.Now()); !ok {
		t.Fatal("no limiter refused")
	}
	l := newIPLimiter(10) // burst 500: a full batch
	now := time.Unix(1_700_000_000, 0)
	if ok, _ := l.take("192.0.2.1", 499, now); !ok {
		t.Fatal("a batch within the burst was refused")
	}
	// A request or frame without events (hello, an empty collect) costs
	// one: it takes the last token, and the next is refused.
	if ok, _ := l.take("192.0.2.1", 0, now); !ok {
		t.Fatal("zero events (hello) were refused with a token left")
	}
	if ok, wait := l.take("192.0.2.1", 0, now); ok || wait != 100*time.Millisecond {
		t.Fatalf("zero events from an empty bucket: ok %v, wait %v; want refused, 100ms", ok, wait)
	}
	ok, wait := l.take("192.0.2.1", 20, now)
	if ok || wait != 2*time.Second {
		t.Fatalf("over the limit: ok %v, wait %v; want refused, 2s", ok, wait)
	}
	// The refused batch took nothing: after 2s exactly 20 fit.
	if ok, _ := l.take("192.0.2.1", 20, now.Add(2*time.Second)); !ok {
		t.Fatal("refused after the wait")
	}
	if ok, _ := l.take("192.0.2.2", 500, now); !ok {
		t.Fatal("another IP shares the bucket")
	}
	if got := retryAfterSeconds(1500 * time.Millisecond); got != 2 {
		t.Fatalf("Retry-After for 1.5s = %d", got)
	}
	if got := retryAfterSeconds(time.Millisecond); got != 1 {
		t.Fatalf("Retry-After for 1ms = %d", got)
	}

	// Idle, refilled buckets go; a drained one stays until it refilled.
	l.take("192.0.2.3", 1, now.Add(30*time.Second))
	if l.size() != 3 {
		t.Fatalf("%d buckets, want 3", l.size())
	}
	later := now.Add(2*time.Minute + time.Second)
	l.take("192.0.2.4", 500, later)
	if l.size() != 1 {
		t.Fatalf("%d buckets after pruning, want 1 (d)", l.size())
	}
	l.take("192.0.2.5", 1, later.Add(61*time.Second))
	if l.size() != 1 {
		t.Fatalf("%d buckets, want 1 (e)", l.size())
	}

	// A bucket that has not refilled stays, idle or not: forgetting it
	// would hand its client a fresh burst. At 1/s a burst of 500 takes
	// over 8 minutes to refill.
	slow := newIPLimiter(1)
	slow.take("192.0.2.24", 500, now)
	slow.take("192.0.2.25", 1, now.Add(61*time.Second))
	if slow.size() != 2 {
		t.Fatalf("%d buckets, want 2: x dropped before it refilled", slow.size())
	}
	slow.take("192.0.2.25", 1, now.Add(10*time.Minute))
	if slow.size() != 1 {
		t.Fatalf("%d buckets, want 1: x refilled long ago", slow.size())
	}
}

// TestIPLimiterGroupsIPv6: the addresses of one IPv6 /64 share a bucket,
// as an IPv4-mapped address shares its IPv4 address's; the next /64 has
// its own.
func TestIPLimiterGroupsIPv6(t *testing.T) {
	l := newIPLimiter(10) // burst 500
	now := time.Unix(1_700_000_000, 0)
	if ok, _ := l.take("2001:db8:1:2::a", 500, now); !ok {
		t.Fatal("a full burst was refused")
	}
	if ok, _ := l.take("2001:db8:1:2:dead:beef:0:1", 1, now); ok {
		t.Fatal("another address of the drained /64 got a fresh bucket")
	}
	if ok, _ := l.take("2001:db8:1:3::a", 500, now); !ok {
		t.Fatal("the next /64 shares the drained bucket")
	}
	if ok, _ := l.take("198.51.100.1", 500, now); !ok {
		t.Fatal("an IPv4 address was refused")
	}
	if ok, _ := l.take("::ffff:198.51.100.1", 1, now); ok {
		t.Fatal("the IPv4-mapped form of a drained IPv4 address got a fresh bucket")
	}
}
