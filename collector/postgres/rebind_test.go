package postgres

import "testing"

func TestRebind(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`SELECT 1`, `SELECT 1`},
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`SELECT instr(url, '?') FROM t WHERE u = ?`, `SELECT instr(url, '?') FROM t WHERE u = $1`},
		{`SELECT 'it''s ?' , "odd?name" FROM t WHERE u = ?`, `SELECT 'it''s ?' , "odd?name" FROM t WHERE u = $1`},
		{"SELECT 1 -- what?\nWHERE a = ? /* and? */ AND b = ?", "SELECT 1 -- what?\nWHERE a = $1 /* and? */ AND b = $2"},
		{`WHERE v.identity_id IS ? AND r.key_hash is  ?`, `WHERE v.identity_id IS NOT DISTINCT FROM $1 AND r.key_hash IS NOT DISTINCT FROM $2`},
		{`WHERE a IS NOT ? AND this_is = ?`, `WHERE a IS DISTINCT FROM $1 AND this_is = $2`},
		{`WHERE a IS NULL AND b = ?`, `WHERE a IS NULL AND b = $1`},
	} {
		if got := rebind(c.in); got != c.want {
			t.Errorf("rebind(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}
