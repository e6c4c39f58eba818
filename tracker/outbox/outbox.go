// Package outbox keeps the events a tracker has made and the collector has
// not acknowledged yet, bounded, in a form that fits in one localStorage
// item. Past the bound the oldest events are dropped and counted, so that a
// long offline stretch cannot fill the visitor's storage.
package outbox

import "github.com/visitrack/visitrack/tracker/wire"

// Entry is one unacknowledged event: its id, the visit and visitor it
// belongs to, and its encoded JSON (never holding a newline).
type Entry struct {
	_         noEq
	ID        string
	VisitID   string
	VisitorID string
	JSON      string
}

// Defaults for the bound.
const (
	DefaultMaxEvents = 500
	DefaultMaxBytes  = 512 << 10
)

// Outbox is an ordered, bounded set of entries, oldest first. The zero value
// uses the default bounds. It is not safe for concurrent use.
type Outbox struct {
	MaxEvents int
	MaxBytes  int

	entries []Entry
	bytes   int
	dropped int64
}

// Len returns the number of entries.
func (o *Outbox) Len() int { return len(o.entries) }

// Entries returns the entries, oldest first. The slice is the outbox's own:
// do not modify it.
func (o *Outbox) Entries() []Entry { return o.entries }

// Dropped returns how many events were dropped past the bound since the
// counter was last persisted and restored.
func (o *Outbox) Dropped() int64 { return o.dropped }

// Add appends e unless an entry with its id is there already, then drops
// the oldest entries past the bound and returns their ids.
func (o *Outbox) Add(e Entry) (dropped []string) {
	if o.index(e.ID) >= 0 {
		return nil
	}
	o.entries = append(o.entries, e)
	o.bytes += size(e)
	maxN, maxB := o.MaxEvents, o.MaxBytes
	if maxN <= 0 {
		maxN = DefaultMaxEvents
	}
	if maxB <= 0 {
		maxB = DefaultMaxBytes
	}
	n := 0
	for len(o.entries)-n > 1 && (len(o.entries)-n > maxN || o.bytes > maxB) {
		o.bytes -= size(o.entries[n])
		dropped = append(dropped, o.entries[n].ID)
		n++
	}
	if n > 0 {
		o.entries = append(o.entries[:0], o.entries[n:]...)
		o.dropped += int64(n)
	}
	return dropped
}

// Remove deletes the entries with the given ids and reports how many it
// found.
func (o *Outbox) Remove(ids ...string) int {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}
	kept := o.entries[:0]
	for _, e := range o.entries {
		if set[e.ID] {
			o.bytes -= size(e)
			continue
		}
		kept = append(kept, e)
	}
	n := len(o.entries) - len(kept)
	clear(o.entries[len(kept):])
	o.entries = kept
	return n
}

// Has reports whether an entry with id is waiting.
func (o *Outbox) Has(id string) bool { return o.index(id) >= 0 }

// Rebind moves the entries of visit from to visit to, for when the
// collector settled on another id for the visit these events were made in.
func (o *Outbox) Rebind(from, to, visitorID string) {
	for i := range o.entries {
		if o.entries[i].VisitID == from {
			o.entries[i].VisitID = to
			o.entries[i].VisitorID = visitorID
		}
	}
}

// Clear drops every entry and the drop counter.
func (o *Outbox) Clear() {
	o.entries, o.bytes, o.dropped = nil, 0, 0
}

func (o *Outbox) index(id string) int {
	for i := range o.entries {
		if o.entries[i].ID == id {
			return i
		}
	}
	return -1
}

func size(e Entry) int { return len(e.ID) + len(e.VisitID) + len(e.VisitorID) + len(e.JSON) + 4 }

// Encode returns the outbox as text for localStorage: a header line
// "vt1 <dropped>", then one line per entry, "id visitId visitorId json".
func (o *Outbox) Encode() string {
	b := make([]byte, 0, o.bytes+16)
	b = append(b, "vt1 "...)
	b = wire.AppendInt(b, o.dropped)
	for _, e := range o.entries {
		b = append(b, '\n')
		b = append(b, e.ID...)
		b = append(b, ' ')
		b = append(b, e.VisitID...)
		b = append(b, ' ')
		b = append(b, e.VisitorID...)
		b = append(b, ' ')
		b = append(b, e.JSON...)
	}
	return string(b)
}

// Merge adds the entries and drop count of an encoded outbox (from Encode,
// possibly another tab's). Malformed text and lines are ignored: storage
// is the visitor's to tamper with.
func (o *Outbox) Merge(text string) {
	first := true
	for len(text) > 0 {
		line := text
		if i := index(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		if first {
			first = false
			if len(line) < 4 || line[:4] != "vt1 " {
				return
			}
			var n int64
			for _, c := range []byte(line[4:]) {
				if c < '0' || c > '9' {
					n = 0
					break
				}
				n = n*10 + int64(c-'0')
			}
			o.dropped += n
			continue
		}
		var f [3]string
		ok := true
		for k := 0; k < 3; k++ {
			i := index(line, ' ')
			if i <= 0 {
				ok = false
				break
			}
			f[k], line = line[:i], line[i+1:]
		}
		if ok && len(line) > 1 && line[0] == '{' {
			o.dropped += int64(len(o.Add(Entry{ID: f[0], VisitID: f[1], VisitorID: f[2], JSON: line})))
		}
	}
}

func index(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// noEq makes Entry incomparable: no equality function in the download.
type noEq [0]func()
