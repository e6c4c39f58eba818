// Package ulid makes ULIDs (https://github.com/ulid/spec) for the tracker:
// 48 bits of Unix milliseconds and 80 random bits in Crockford base32.
//
// It exists because github.com/oklog/ulid/v2 links database/sql/driver and
// with it fmt and reflect into the WebAssembly tracker; this encoder is a
// few hundred bytes.
package ulid

const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Encode returns the canonical 26-character ULID of ms and entropy.
func Encode(ms int64, entropy [10]byte) string {
	// The 128-bit value as two halves: 48 bits of time and 16 of entropy
	// in hi, the other 64 bits of entropy in lo.
	hi := uint64(ms)<<16 | uint64(entropy[0])<<8 | uint64(entropy[1])
	var lo uint64
	for _, b := range entropy[2:] {
		lo = lo<<8 | uint64(b)
	}
	var s [26]byte
	for i := 25; i >= 0; i-- {
		s[i] = alphabet[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(s[:])
}

// Generator makes ULIDs that sort in the order they were made, even within
// one millisecond or when the clock steps back: the entropy of the previous
// ULID is incremented instead of drawn afresh. It is not safe for concurrent
// use.
type Generator struct {
	// Random fills p with cryptographically random bytes.
	Random func(p []byte)

	lastMS  int64
	entropy [10]byte
}

// New returns a ULID for the time ms (Unix milliseconds).
func (g *Generator) New(ms int64) string {
	if ms > g.lastMS {
		g.lastMS = ms
		g.Random(g.entropy[:])
	} else {
		for i := 9; i >= 0; i-- {
			g.entropy[i]++
			if g.entropy[i] != 0 {
				break
			}
		}
	}
	return Encode(g.lastMS, g.entropy)
}
