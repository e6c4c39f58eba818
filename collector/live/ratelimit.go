package live

import (
	"math"
	"net/netip"
	"sync"
	"time"

	// golang.org/x/time/rate is the Go team's token bucket, the
	// well-kept standard choice; nothing here needs more than it.
	"golang.org/x/time/rate"

	"github.com/visitrack/visitrack/shared/protocol"
)

// pruneEvery is how often, at most, the limiter drops the buckets of
// clients idle for over pruneIdle.
const (
	pruneEvery = time.Minute
	pruneIdle  = time.Minute
)

// ipLimiter is a token bucket per client address, shared by the WebSocket
// and /v1/collect: perSecond events, and a burst of twice that (at least
// a full batch, which could otherwise never pass). IPv6 clients share one
// bucket per /64 (see addrGroup).
//
// Every request and every frame costs at least one, whatever it carries:
// an empty /v1/collect or a hello creates a visitor and a visit, so free
// ones would let one address fill the database without limit
// (docs/operations.md#the-rate-limit). A reconnecting tracker still gets its welcome: the burst
// holds hundreds of hellos, and once a flood has drained it, the tracker's
// backoff after the 1013 close waits for it to refill.
type ipLimiter struct {
	limit rate.Limit
	burst int

	mu        sync.Mutex
	buckets   map[netip.Prefix]*bucket // by addrGroup
	lastPrune time.Time
}

type bucket struct {
	lim  *rate.Limiter
	used time.Time
}

// newIPLimiter returns nil, which allows everything, for perSecond <= 0.
func newIPLimiter(perSecond int) *ipLimiter {
	if perSecond <= 0 {
		return nil
	}
	return &ipLimiter{
		limit:   rate.Limit(perSecond),
		burst:   max(2*perSecond, protocol.MaxBatchEvents),
		buckets: map[netip.Prefix]*bucket{},
	}
}

// take takes n events from the bucket of ip's group (addrGroup), or
// nothing: then it returns how long until the bucket holds n. n below 1
// (a request or frame without events) costs 1.
func (l *ipLimiter) take(ip string, n int, now time.Time) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	n = max(n, 1)
	key := ipGroup(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
	b := l.buckets[key]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(l.limit, l.burst)}
		l.buckets[key] = b
	}
	b.used = now
	r := b.lim.ReserveN(now, n)
	if !r.OK() { // n > burst: cannot happen for a valid batch
		return false, time.Duration(math.MaxInt64)
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// pruneLocked drops, at most once per pruneEvery, the buckets unused for
// over pruneIdle that have refilled: such a bucket is as good as a new one,
// so forgetting it changes no decision.
func (l *ipLimiter) pruneLocked(now time.Time) {
	if now.Sub(l.lastPrune) < pruneEvery {
		return
	}
	l.lastPrune = now
	for key, b := range l.buckets {
		if now.Sub(b.used) > pruneIdle && b.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, key)
		}
	}
}

// size returns the number of buckets held, for tests.
func (l *ipLimiter) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
