package engage

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// The index is the rules compiled for the engine: each distinct thing the
// rules watch (an event of a name with its data conditions, a page of a
// category) is one matcher, evaluated once per event however many rules
// ask for it, and a visit's state is slices indexed by the slots the
// index hands out, not maps keyed by rule and condition.
//
// An event can make a rule true only through a condition it triggers: an
// event condition (or a counted one) whose matcher the event hits, a page
// condition (or a counted one) whose category the page entered has, or a
// dwell, which any event of the visit may find reached. Each matcher
// lists the rules watching it, so that an event meets only the rules of
// the matchers it hit and those with a dwell, not every rule on its name
// (docs/engagement.md, "Cost").
type index struct {
	all   []*crule // in the rules' order: crule.pos
	dwell []*crule // the rules any event may trigger: those with a dwell
	byID  map[string]*crule
	// matchers, and for each event name the matchers it may hit.
	matchers []matcher
	watch    map[string][]int
	ptrs     []string // the JSON pointers of the data conditions, each once
	layout   *layout
	// watch, split for the engine (thresholds.go).
	scans map[string]scan
}

// crule is a rule compiled: its conditions' matchers and slots.
type crule struct {
	*Rule
	pos   int32   // in index.all
	conds []ccond // as r.When
	dwell int     // the rule's slot in visit.dwell (its timer); -1 without dwell
}

// ccond is one of a rule's conditions compiled.
type ccond struct {
	m     int // the matcher of an event, page or count condition; -1
	fired int // a dwell's slot in visit.dwellFired; -1
	// What check reads, at hand rather than behind the condition's
	// pointers: it runs for every rule an event may make true.
	kind   uint8  // condEvent, condPage, condCount, condDwell; 0 for what fire checks
	slot   int    // an event's slot in visit.seen, a count's in visit.rings
	n      int    // a count's atLeast
	within int64  // a count's window, ms
	cat    string // a page's category
}

// Kinds of condition, for check.
const (
	condEvent = iota + 1
	condPage
	condCount
	condDwell
)

// matcher is one distinct event (name and data conditions) or page
// category that rules watch.
type matcher struct {
	key      string // what it matches, the same across SetRules
	name     string // the events it may hit: its event's name, or PageEntered
	page     bool
	category string // a page's
	cmps     []cmp  // an event's data conditions, by pointer
	seen     int    // slot in visit.seen (an event condition asks for it); -1
	ring     int    // slot in visit.rings (a count condition counts it); -1
	size     int    // the ring's length: the largest count asked of it
	// The rules with a condition on it (index.all), in order, each once.
	rules []int32
}

type cmp struct {
	ptr int // in index.ptrs
	c   Comparison
	// A comparison of gt, gte, lt and lte only (the common "/qty ≥ 3") is
	// the interval the number must lie in, tested without matchValue's
	// other branches: bounds is set, lo and hi are ±Inf where absent.
	bounds         bool
	lo, hi         float64
	loOpen, hiOpen bool
}

// newCmp compiles c on the pointer ptr.
func newCmp(ptr int, c Comparison) cmp {
	k := cmp{ptr: ptr, c: c, lo: math.Inf(-1), hi: math.Inf(1)}
	if c.Exists != nil || c.hasEq || c.hasNe || c.Contains != "" || c.Gt == nil && c.Gte == nil && c.Lt == nil && c.Lte == nil {
		return k
	}
	k.bounds = true
	// Given both, the stricter of gt and gte (and of lt and lte) decides.
	if c.Gte != nil {
		k.lo = *c.Gte
	}
	if c.Gt != nil && *c.Gt >= k.lo {
		k.lo, k.loOpen = *c.Gt, true
	}
	if c.Lte != nil {
		k.hi = *c.Lte
	}
	if c.Lt != nil && *c.Lt <= k.hi {
		k.hi, k.hiOpen = *c.Lt, true
	}
	return k
}

// match tells whether x satisfies the comparison, as c.matchValue(x).
func (k *cmp) match(x *value) bool {
	if !k.bounds {
		return k.c.matchValue(x)
	}
	f, isNum := x.number()
	return x.ok && isNum && (f > k.lo || f == k.lo && !k.loOpen) && (f < k.hi || f == k.hi && !k.hiOpen)
}

// layout names what each slot of a visit's state holds, so that a visit
// laid out for older rules keeps, under new rules, the state of what they
// still watch (relayout).
type layout struct {
	seen  []string          // matcher keys
	rings []string          // matcher keys
	sizes []int             // ring lengths
	fired []string          // rule id, version and condition of each dwell condition
	dwell []string          // rule id and version of each rule with a dwell
	slot  [4]map[string]int // for seen, rings, fired and dwell: each key → its slot
}

// Kinds of slot, for layout.at.
const (
	slotSeen = iota
	slotRing
	slotFired
	slotDwell
)

// at is the slot of key among the keys of a kind, or -1.
func (l *layout) at(kind int, key string) int {
	if i, ok := l.slot[kind][key]; ok {
		return i
	}
	return -1
}

func (l *layout) equal(o *layout) bool {
	return slices.Equal(l.seen, o.seen) && slices.Equal(l.rings, o.rings) && slices.Equal(l.sizes, o.sizes) &&
		slices.Equal(l.fired, o.fired) && slices.Equal(l.dwell, o.dwell)
}

func newIndex(rules []*Rule) index {
	x := index{byID: make(map[string]*crule, len(rules)), watch: map[string][]int{}, layout: &layout{}}
	keys := map[string]int{} // matcher key → index
	ptrs := map[string]int{}
	matcherOf := func(c *Condition) int {
		key, name := "", protocol.EventPageEntered
		if c.Page != nil {
			key = "page\x00" + c.Page.Category
		} else {
			key, name = "event\x00"+c.Event.Name+"\x00"+comparisonsKey(c.Event.Data), c.Event.Name
		}
		if i, ok := keys[key]; ok {
			return i
		}
		m := matcher{key: key, name: name, seen: -1, ring: -1}
		if c.Page != nil {
			m.page, m.category = true, c.Page.Category
		} else {
			for _, p := range sortedKeys(c.Event.Data) {
				id, ok := ptrs[p]
				if !ok {
					id = len(x.ptrs)
					ptrs[p] = id
					x.ptrs = append(x.ptrs, p)
				}
				m.cmps = append(m.cmps, newCmp(id, c.Event.Data[p]))
			}
		}
		keys[key] = len(x.matchers)
		x.matchers = append(x.matchers, m)
		x.watch[name] = append(x.watch[name], len(x.matchers)-1)
		return len(x.matchers) - 1
	}
	for _, r := range rules {
		cr := &crule{Rule: r, pos: int32(len(x.all)), conds: make([]ccond, len(r.When)), dwell: -1}
		version := r.ID + "/" + strconv.FormatInt(r.Version, 10)
		for i := range r.When {
			c, cc := &r.When[i], &cr.conds[i]
			cc.m, cc.fired = -1, -1
			switch {
			case c.Event != nil:
				cc.m, cc.kind = matcherOf(c), condEvent
				if m := &x.matchers[cc.m]; m.seen < 0 {
					m.seen = len(x.layout.seen)
					x.layout.seen = append(x.layout.seen, m.key)
				}
				cc.slot = x.matchers[cc.m].seen
			case c.Page != nil:
				cc.m, cc.kind, cc.cat = matcherOf(c), condPage, c.Page.Category
			case c.Count != nil:
				cc.m, cc.kind = matcherOf(&c.Count.Of), condCount
				m := &x.matchers[cc.m]
				if m.ring < 0 {
					m.ring = len(x.layout.rings)
					x.layout.rings = append(x.layout.rings, m.key)
					x.layout.sizes = append(x.layout.sizes, 0)
				}
				m.size = max(m.size, c.Count.AtLeast)
				x.layout.sizes[m.ring] = m.size
				cc.slot, cc.n, cc.within = m.ring, c.Count.AtLeast, time.Duration(c.Count.Within).Milliseconds()
			case c.Dwell != nil:
				cc.kind = condDwell
				cc.fired = len(x.layout.fired)
				x.layout.fired = append(x.layout.fired, version+"/"+strconv.Itoa(i))
				if cr.dwell < 0 {
					cr.dwell = len(x.layout.dwell)
					x.layout.dwell = append(x.layout.dwell, version)
					x.dwell = append(x.dwell, cr)
				}
			}
		}
		for _, cc := range cr.conds {
			if cc.m < 0 {
				continue
			}
			if m := &x.matchers[cc.m]; len(m.rules) == 0 || m.rules[len(m.rules)-1] != cr.pos {
				m.rules = append(m.rules, cr.pos)
			}
		}
		x.byID[r.ID] = cr
		x.all = append(x.all, cr)
	}
	x.scans = newScans(x.matchers, x.watch)
	l := x.layout
	for kind, keys := range [][]string{l.seen, l.rings, l.fired, l.dwell} {
		l.slot[kind] = make(map[string]int, len(keys))
		for i, k := range keys {
			l.slot[kind][k] = i
		}
	}
	return x
}

// comparisonsKey writes cs in one canonical form, pointers in order, so
// that two rules asking the same of an event share its matcher.
func comparisonsKey(cs Comparisons) string {
	var b []byte
	for _, p := range sortedKeys(cs) {
		c := cs[p]
		j, _ := json.Marshal(c)
		b = strconv.AppendQuote(b, p)
		b = append(b, j...)
		b = strconv.AppendBool(b, c.hasEq)
		b = strconv.AppendBool(b, c.hasNe)
	}
	return string(b)
}

func sortedKeys(cs Comparisons) []string {
	ps := make([]string, 0, len(cs))
	for p := range cs {
		ps = append(ps, p)
	}
	slices.Sort(ps)
	return ps
}

// triggerName is the name of the events that can make c true ("" for
// none): its event's, or PageEntered for a page condition.
func triggerName(c *Condition) string {
	switch {
	case c.Event != nil:
		return c.Event.Name
	case c.Page != nil:
		return protocol.EventPageEntered
	}
	return ""
}

// triggeredBy tells whether an event named name may make r true.
func (r *Rule) triggeredBy(name string) bool {
	for i := range r.When {
		c := &r.When[i]
		if c.Dwell != nil || triggerName(c) == name || c.Count != nil && triggerName(&c.Count.Of) == name {
			return true
		}
	}
	return false
}

// hit tells whether the event (named m.name) is what m watches: its data
// is read where it lies, not decoded (rawjson.go); cats are the
// categories of the visit's current page.
func (m *matcher) hit(cats []string, d *eventData) bool {
	if m.page {
		return slices.Contains(cats, m.category)
	}
	for i := range m.cmps {
		if k := &m.cmps[i]; !k.match(d.value(k.ptr)) {
			return false
		}
	}
	return true
}
