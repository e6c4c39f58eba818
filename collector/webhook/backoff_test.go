package webhook

import (
	"testing"
	"time"
)

// The first three retries come within a minute of the first attempt, and
// the waits never shrink.
func TestDefaultBackoff(t *testing.T) {
	var at time.Duration
	for n := 1; n <= 3; n++ {
		at += DefaultBackoff(n)
	}
	if at >= time.Minute {
		t.Errorf("third retry %v after the first attempt", at)
	}
	for n := 2; n < 20; n++ {
		if DefaultBackoff(n) < DefaultBackoff(n-1) || DefaultBackoff(n) > 8*time.Hour {
			t.Errorf("DefaultBackoff(%d) = %v after %v", n, DefaultBackoff(n), DefaultBackoff(n-1))
		}
	}
}
