package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/postgres/fromsqlite"
)

// On a terminal the progress is one line rewritten in place, with the
// rate and the time left; elsewhere it is plain lines, one per finished
// table and one every few seconds, never a carriage return.
func TestMigrateProgress(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	clock := t0
	now := func() time.Time { return clock }
	feed := func(p *progress) {
		st := fromsqlite.Status{Phase: fromsqlite.PhaseCopy, Table: "events", TableTotal: 1_000_000, Total: 1_000_000, Started: t0}
		for i := 1; i <= 100; i++ {
			clock = t0.Add(time.Duration(i) * 200 * time.Millisecond)
			st.TableRows, st.Rows = int64(i)*10_000, int64(i)*10_000
			st.TableDone = i == 100
			p.report(st)
		}
		p.end()
	}

	var term bytes.Buffer
	tp := &progress{w: &term, now: now, terminal: true}
	feed(tp)
	out := term.String()
	if !strings.Contains(out, "\r\033[Kcopy events: 500,000 of 1,000,000 rows (50%), 50,000 rows/s, 500,000 of 1,000,000 in all, about 10s left") {
		t.Errorf("the terminal line at half way is missing:\n%q", out)
	}
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("the terminal shows %d lines, want the one rewritten line ended once:\n%q", n, out)
	}

	var plain bytes.Buffer
	pp := &progress{w: &plain, now: now, terminal: false}
	feed(pp)
	out = plain.String()
	if strings.Contains(out, "\r") {
		t.Errorf("plain output rewrites lines:\n%q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	// 20 s of copying: a line at the first batch, then 5 s apart, and
	// the end.
	if len(lines) != 5 || !strings.HasPrefix(lines[4], "copy events: 1,000,000 of 1,000,000 rows (100%)") {
		t.Errorf("plain output: %d lines, want 5 ending with the finished table:\n%s", len(lines), out)
	}
}
