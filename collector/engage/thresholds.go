package engage

// Rules often compare one number of an event with thresholds of their
// own: a cart's value at least 100, 250, 1000. Each such comparison is a
// matcher of its own, and evaluating them one by one made every rule on
// the event cost a comparison however few could match. The matchers of
// an event name with a single bound on the same pointer are kept sorted
// by it instead, so that an event meets those it hits and one more: the
// rest lie beyond its number (docs/engagement.md, "Cost").

import (
	"math"
	"slices"
)

// scan is how the matchers of an event name are evaluated: those in
// plain one by one, those of groups by their sorted bounds.
type scan struct {
	plain  []int
	groups []thresholds
}

// thresholds are matchers of one event name, each a single comparison
// on the pointer ptr with a lower bound only (or, with neg, an upper
// bound only, as the lower bound of the number negated), sorted so that
// the matchers a number hits come first.
type thresholds struct {
	ptr int
	neg bool
	at  []threshold
}

type threshold struct {
	lo   float64
	open bool // gt, not gte: lo itself is not hit
	m    int
}

// newScans splits each name's matchers (watch) into plain ones and
// groups of thresholds.
func newScans(ms []matcher, watch map[string][]int) map[string]scan {
	scans := make(map[string]scan, len(watch))
	for name, is := range watch {
		var s scan
		groups := map[[2]int]int{} // pointer and neg → index in s.groups
		for _, i := range is {
			m := &ms[i]
			if m.page || len(m.cmps) != 1 || !m.cmps[0].bounds {
				s.plain = append(s.plain, i)
				continue
			}
			k := &m.cmps[0]
			t := threshold{lo: k.lo, open: k.loOpen, m: i}
			neg := 0
			switch {
			case math.IsInf(k.hi, 1) && !math.IsInf(k.lo, -1):
			case math.IsInf(k.lo, -1) && !math.IsInf(k.hi, 1):
				t.lo, t.open, neg = -k.hi, k.hiOpen, 1
			default:
				s.plain = append(s.plain, i)
				continue
			}
			g, ok := groups[[2]int{k.ptr, neg}]
			if !ok {
				g = len(s.groups)
				groups[[2]int{k.ptr, neg}] = g
				s.groups = append(s.groups, thresholds{ptr: k.ptr, neg: neg == 1})
			}
			s.groups[g].at = append(s.groups[g].at, t)
		}
		for g := range s.groups {
			// Ascending, gte before gt at the same bound: a number hits a
			// prefix.
			slices.SortFunc(s.groups[g].at, func(a, b threshold) int {
				switch {
				case a.lo != b.lo:
					return order(a.lo < b.lo)
				case a.open != b.open:
					return order(!a.open)
				}
				return a.m - b.m
			})
		}
		scans[name] = s
	}
	return scans
}

// order is -1 when a comes first, else 1.
func order(aFirst bool) int {
	if aFirst {
		return -1
	}
	return 1
}

// hits appends to dst the matchers of the event named name that it hits
// (d its data, cats its page's categories): the plain ones in order,
// then each group's.
func (x *index) hits(dst []int32, name string, cats []string, d *eventData) []int32 {
	s := x.scans[name]
	for _, i := range s.plain {
		if x.matchers[i].hit(cats, d) {
			dst = append(dst, int32(i))
		}
	}
	for g := range s.groups {
		t := &s.groups[g]
		v := d.value(t.ptr)
		f, isNum := v.number()
		if !v.ok || !isNum {
			continue
		}
		if t.neg {
			f = -f
		}
		for j := range t.at {
			if a := &t.at[j]; !(f > a.lo || f == a.lo && !a.open) {
				break
			}
			dst = append(dst, int32(t.at[j].m))
		}
	}
	return dst
}
