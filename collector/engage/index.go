package engage

import "github.com/visitrack/visitrack/shared/protocol"

// An event can make a rule true only through a condition it triggers: an
// event condition (or a counted one) of its name, a page condition (or a
// counted one) on PageEntered, or a dwell, which any event of the visit
// may find reached. The index keeps, for each name, only those rules, so
// that an event meets the few rules that could fire on it rather than all
// of them (docs/engagement.md, "Cost").
type index struct {
	byName map[string][]*Rule // event name → the rules it may trigger, in the rules' order
	dwell  []*Rule            // the rules any event may trigger: those with a dwell
	byID   map[string]*Rule
}

func newIndex(rules []*Rule) index {
	x := index{byName: map[string][]*Rule{}, byID: make(map[string]*Rule, len(rules))}
	names := map[string]struct{}{}
	for _, r := range rules {
		x.byID[r.ID] = r
		for i := range r.When {
			c := &r.When[i]
			switch {
			case c.Dwell != nil:
				x.dwell = append(x.dwell, r)
			case c.Count != nil:
				names[triggerName(&c.Count.Of)] = struct{}{}
			default:
				if n := triggerName(c); n != "" {
					names[n] = struct{}{}
				}
			}
		}
	}
	x.dwell = uniq(x.dwell)
	for n := range names {
		var rs []*Rule
		for _, r := range rules {
			if r.triggeredBy(n) {
				rs = append(rs, r)
			}
		}
		x.byName[n] = rs
	}
	return x
}

// rules returns the rules an event named name may make true, in the
// rules' order.
func (x *index) rules(name string) []*Rule {
	if rs, ok := x.byName[name]; ok {
		return rs
	}
	return x.dwell
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

// uniq drops the repeats of a rule from rs, which lists each rule's
// entries together.
func uniq(rs []*Rule) []*Rule {
	out := rs[:0]
	for i, r := range rs {
		if i == 0 || rs[i-1] != r {
			out = append(out, r)
		}
	}
	return out
}
