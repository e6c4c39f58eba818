package live

import "testing"

// TestConnSet: a connection is in one group at a time; moving it leaves
// no trace in the old group, an emptied group goes, and members is a copy
// the caller may keep.
func TestConnSet(t *testing.T) {
	var s connSet[string]
	a, b, c := &conn{}, &conn{}, &conn{}
	if got := s.members("x"); len(got) != 0 || s.count("x") != 0 {
		t.Fatalf("zero set: members %v", got)
	}
	s.remove(a) // not in any group: nothing happens
	s.move(a, "x")
	s.move(b, "x")
	s.move(c, "y")
	if s.count("x") != 2 || s.count("y") != 1 {
		t.Fatalf("counts x=%d y=%d, want 2 and 1", s.count("x"), s.count("y"))
	}
	s.move(a, "y")
	if k, ok := s.key(a); !ok || k != "y" {
		t.Fatalf("key(a) = %q, %v; want y", k, ok)
	}
	if got := s.members("x"); len(got) != 1 || got[0] != b {
		t.Fatalf("x after a moved away = %v, want only b", got)
	}
	s.move(a, "y") // again: still once
	if s.count("y") != 2 {
		t.Fatalf("y = %d, want 2 after a repeated move", s.count("y"))
	}
	kept := s.members("y")
	s.remove(b)
	s.remove(b)
	if _, ok := s.key(b); ok {
		t.Fatal("b still has a key after remove")
	}
	if keys := s.groupKeys(); len(keys) != 1 || keys[0] != "y" {
		t.Fatalf("keys = %v, want [y]: the emptied group x must go", keys)
	}
	s.remove(a)
	if len(kept) != 2 || s.count("y") != 1 {
		t.Fatalf("the copy changed with the set (%d) or y = %d, want 2 and 1", len(kept), s.count("y"))
	}
	all := map[*conn]string{}
	for k, c := range s.all() {
		all[c] = k
	}
	if len(all) != 1 || all[c] != "y" {
		t.Fatalf("all = %v, want c in y", all)
	}
	s.remove(c)
	if len(s.groups) != 0 || len(s.keys) != 0 {
		t.Fatalf("an empty set still holds %d groups, %d keys", len(s.groups), len(s.keys))
	}
}
