package outbox

import (
	"reflect"
	"strconv"
	"testing"
)

func entry(i int) Entry {
	return Entry{ID: "E" + strconv.Itoa(i), VisitID: "V", VisitorID: "U", JSON: `{"n":` + strconv.Itoa(i) + `}`}
}

func ids(o *Outbox) []string {
	var s []string
	for _, e := range o.Entries() {
		s = append(s, e.ID)
	}
	return s
}

func TestBoundDropsOldestAndCounts(t *testing.T) {
	o := &Outbox{MaxEvents: 3}
	for i := 1; i <= 5; i++ {
		o.Add(entry(i))
	}
	if got := ids(o); !reflect.DeepEqual(got, []string{"E3", "E4", "E5"}) {
		t.Fatalf("entries %v", got)
	}
	if o.Dropped() != 2 {
		t.Fatalf("dropped %d", o.Dropped())
	}
	if d := o.Add(entry(6)); !reflect.DeepEqual(d, []string{"E3"}) {
		t.Fatalf("Add returned %v", d)
	}

	// The byte bound keeps at least the newest entry.
	b := &Outbox{MaxBytes: 30}
	b.Add(entry(1))
	b.Add(Entry{ID: "big", JSON: `{"x":"` + string(make([]byte, 100)) + `"}`})
	if got := ids(b); !reflect.DeepEqual(got, []string{"big"}) {
		t.Fatalf("byte bound kept %v", got)
	}
}

func TestAddIgnoresDuplicatesAndRemove(t *testing.T) {
	o := &Outbox{}
	o.Add(entry(1))
	o.Add(entry(1))
	o.Add(entry(2))
	o.Add(entry(3))
	if o.Len() != 3 {
		t.Fatalf("len %d", o.Len())
	}
	if n := o.Remove("E2", "nope", "E1"); n != 2 || !reflect.DeepEqual(ids(o), []string{"E3"}) || !o.Has("E3") || o.Has("E1") {
		t.Fatalf("Remove = %d, left %v", n, ids(o))
	}
}

func TestEncodeMergeRoundTrip(t *testing.T) {
	o := &Outbox{MaxEvents: 2}
	for i := 1; i <= 3; i++ {
		o.Add(entry(i))
	}
	o.Rebind("V", "W", "U2")
	text := o.Encode()

	p := &Outbox{}
	p.Add(entry(3)) // already there: merged once
	p.Merge(text)
	if !reflect.DeepEqual(ids(p), []string{"E3", "E2"}) {
		t.Fatalf("merged %v", ids(p))
	}
	q := &Outbox{}
	q.Merge(text)
	if !reflect.DeepEqual(q.Entries(), o.Entries()) || q.Dropped() != 1 {
		t.Fatalf("round trip: %+v dropped %d, want %+v", q.Entries(), q.Dropped(), o.Entries())
	}
	if q.Entries()[0].VisitID != "W" || q.Entries()[0].VisitorID != "U2" {
		t.Fatalf("rebind lost: %+v", q.Entries()[0])
	}
}

func TestMergeIgnoresGarbage(t *testing.T) {
	for _, s := range []string{"", "garbage", "vt1 x\nE1 V U notjson", "vt1 3\nE1 V\n\nE2 V U {}"} {
		o := &Outbox{}
		o.Merge(s)
		for _, e := range o.Entries() {
			if e.ID != "E2" {
				t.Errorf("Merge(%q) kept %+v", s, e)
			}
		}
	}
	o := &Outbox{}
	o.Merge("vt1 3\nE2 V U {}")
	if o.Len() != 1 || o.Dropped() != 3 {
		t.Fatalf("len %d dropped %d", o.Len(), o.Dropped())
	}
}

func TestClear(t *testing.T) {
	o := &Outbox{MaxEvents: 1}
	o.Add(entry(1))
	o.Add(entry(2))
	o.Clear()
	if o.Len() != 0 || o.Dropped() != 0 || o.Encode() != "vt1 0" {
		t.Fatalf("after Clear: %q", o.Encode())
	}
}
