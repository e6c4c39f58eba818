// Package backoff spaces out reconnection attempts: exponential growth with
// "equal jitter" (half the delay fixed, half random), so that thousands of
// browsers cut off by one collector restart do not come back in step.
package backoff

// Backoff computes delays in milliseconds. The zero value is not usable:
// set Min, Max and Random.
type Backoff struct {
	Min, Max int64
	// Random returns a uniformly random uint32.
	Random func() uint32

	attempt int
}

// Next returns the delay before the next attempt and counts the attempt.
func (b *Backoff) Next() int64 {
	d := b.Min
	for i := 0; i < b.attempt && d < b.Max; i++ {
		d *= 2
	}
	if d > b.Max {
		d = b.Max
	}
	b.attempt++
	half := d / 2
	return d - half + int64(uint64(b.Random())*uint64(half+1)>>32)
}

// Attempts returns how many delays were handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }

// Reset starts again from Min, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }
