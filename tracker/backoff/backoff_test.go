package backoff

import (
	"math/rand/v2"
	"testing"
)

func TestGrowsWithinJitterAndCaps(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := &Backoff{Min: 500, Max: 30000, Random: r.Uint32}
	want := []int64{500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000}
	for i, d := range want {
		got := b.Next()
		if got < d/2 || got > d {
			t.Fatalf("attempt %d: %d not in [%d, %d]", i, got, d/2, d)
		}
	}
	b.Reset()
	if got := b.Next(); got < 250 || got > 500 || b.Attempts() != 1 {
		t.Fatalf("after Reset: %d (attempts %d)", got, b.Attempts())
	}
}

func TestJitterSpreads(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	seen := map[int64]bool{}
	for i := 0; i < 50; i++ {
		b := &Backoff{Min: 1000, Max: 1000, Random: r.Uint32}
		seen[b.Next()] = true
	}
	if len(seen) < 20 {
		t.Fatalf("only %d distinct delays in 50 browsers", len(seen))
	}
	lo := &Backoff{Min: 1000, Max: 1000, Random: func() uint32 { return 0 }}
	hi := &Backoff{Min: 1000, Max: 1000, Random: func() uint32 { return 1<<32 - 1 }}
	if lo.Next() != 500 || hi.Next() != 1000 {
		t.Fatal("jitter bounds")
	}
}
