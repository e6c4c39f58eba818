package ulid

import (
	"sort"
	"testing"

	"github.com/visitrack/visitrack/shared/protocol"
)

func TestEncodeKnownValues(t *testing.T) {
	cases := []struct {
		ms      int64
		entropy [10]byte
		want    string
	}{
		{0, [10]byte{}, "00000000000000000000000000"},
		{1<<48 - 1, [10]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
		// From the ULID spec's example timestamp 1469918176385.
		{1469918176385, [10]byte{}, "01ARYZ6S410000000000000000"},
		{0, [10]byte{9: 1}, "00000000000000000000000001"},
		{0, [10]byte{9: 32}, "00000000000000000000000010"},
	}
	for _, c := range cases {
		if got := Encode(c.ms, c.entropy); got != c.want {
			t.Errorf("Encode(%d, %x) = %s, want %s", c.ms, c.entropy, got, c.want)
		}
		if !protocol.IsULID(c.want) {
			t.Errorf("%s is not a ULID for the protocol", c.want)
		}
	}
}

func TestGeneratorMonotonic(t *testing.T) {
	n := byte(0)
	g := &Generator{Random: func(p []byte) {
		for i := range p {
			p[i] = 0xff // worst case for increments
		}
		p[9] = n
		n += 200
	}}
	var ids []string
	for _, ms := range []int64{1000, 1000, 1000, 999, 1001, 1001} {
		ids = append(ids, g.New(ms))
	}
	if !sort.StringsAreSorted(ids) {
		t.Fatalf("not sorted: %v", ids)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] || !protocol.IsULID(id) {
			t.Fatalf("duplicate or invalid %s in %v", id, ids)
		}
		seen[id] = true
	}
}
