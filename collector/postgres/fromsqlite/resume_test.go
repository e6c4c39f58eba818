package fromsqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/postgres/fromsqlite"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// The test binary runs the copy as a child process of its own when these
// are set, so that a test can kill a real copy with SIGKILL.
const (
	childFrom  = "FROMSQLITE_TEST_CHILD_FROM"
	childTo    = "FROMSQLITE_TEST_CHILD_TO"
	childBatch = 200
)

// copyAsChild runs the copy and prints a line per committed batch:
// "copy TABLE ROWS".
func copyAsChild() {
	_, err := fromsqlite.Run(context.Background(), fromsqlite.Config{
		From: os.Getenv(childFrom), To: os.Getenv(childTo), Batch: childBatch,
		Report: func(s fromsqlite.Status) {
			fmt.Printf("%s %s %d\n", s.Phase, s.Table, s.TableRows)
		},
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// A copy killed halfway through the events resumes when run again: the
// rows committed stay, the rest follows, nothing twice, and the
// verification passes. Another source cannot take the halfway copy over,
// and a finished copy is not copied into again.
func TestResumeAfterKill(t *testing.T) {
	ctx := context.Background()
	const events = 20000
	dir := newSource(t, func(s *store.Store) {
		storetest.Seed(t, s)
		storetest.SeedBulk(t, s, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), 100, events/100)
	})
	source := sqliteTables(t, dir)
	u := pgtest.NewDatabase(t)

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childFrom+"="+dir, childTo+"="+u)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	killed := false
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 3 && f[0] == "copy" && f[1] == "events" {
			if n, _ := strconv.Atoi(f[2]); n >= 3*childBatch {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
				break
			}
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("the copy ended before the test could kill it: %v\n%s", err, stderr.String())
	}
	copied := targetCount(t, u, "events")
	if copied == 0 || copied >= events || copied%childBatch != 0 {
		t.Fatalf("after the kill the target has %d events, want whole batches of %d, some but not all of %d", copied, childBatch, events)
	}

	// Another source is refused: the halfway copy is not its.
	other := newSource(t, func(s *store.Store) { storetest.Seed(t, s) })
	if _, err := fromsqlite.Run(ctx, fromsqlite.Config{From: other, To: u}); err == nil || !strings.Contains(err.Error(), "holds a halfway copy of") {
		t.Fatalf("a copy from another source into a halfway copy: %v, want a refusal", err)
	}

	var resumedAt int64 = -1
	res, err := fromsqlite.Run(ctx, fromsqlite.Config{From: dir, To: u, Batch: childBatch, Report: func(s fromsqlite.Status) {
		if s.Phase == fromsqlite.PhaseCopy && s.Table == "events" && resumedAt < 0 {
			resumedAt = s.TableRows
		}
	}})
	if err != nil {
		t.Fatalf("the second run: %v", err)
	}
	if !res.Resumed {
		t.Error("the second run does not say it resumed")
	}
	if resumedAt != copied {
		t.Errorf("the second run started the events at row %d, want %d (where the first stopped)", resumedAt, copied)
	}
	for _, tb := range res.Tables {
		if tb.Rows != source[tb.Name] {
			t.Errorf("%s: %d rows after the resumed copy, the source has %d", tb.Name, tb.Rows, source[tb.Name])
		}
	}
	if got := targetCount(t, u, "events"); got != events+9 { // SeedBulk's and the Fixture's 9
		t.Errorf("the target has %d events, want %d", got, events+9)
	}

	// Done: a third run finds a database that is not empty.
	if _, err := fromsqlite.Run(ctx, fromsqlite.Config{From: dir, To: u}); err == nil || !strings.Contains(err.Error(), "is not empty") {
		t.Fatalf("a copy into a finished copy: %v, want a refusal", err)
	}
}

// A database a collector already wrote into (here: its admin token) is
// refused, and left as it was.
func TestRefusesNonEmptyTarget(t *testing.T) {
	ctx := context.Background()
	dir := newSource(t, func(s *store.Store) { storetest.Seed(t, s) })
	u := pgtest.NewDatabase(t)
	s, closeDB, err := daemon.OpenDatabase(ctx, u, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EnsureToken(ctx, "vt_a_node_started_here", []string{"admin"}); err != nil {
		t.Fatal(err)
	}
	closeDB()
	_, err = fromsqlite.Run(ctx, fromsqlite.Config{From: dir, To: u})
	if err == nil || !strings.Contains(err.Error(), "is not empty (table tokens has rows)") {
		t.Fatalf("copy into a used database: %v, want a refusal naming tokens", err)
	}
	if strings.Count(err.Error(), "\n") > 0 {
		t.Errorf("the refusal is more than one line: %q", err)
	}
	if n := targetCount(t, u, "tokens"); n != 1 {
		t.Errorf("the refused target has %d tokens, want its 1", n)
	}
	if n := targetCount(t, u, "visits"); n != 0 {
		t.Errorf("the refused target has %d visits, want none", n)
	}
}

// The verification reads the target again: a row that changed there after
// it was copied (here, as the verification starts) fails the run.
func TestVerifyCatchesADifference(t *testing.T) {
	ctx := context.Background()
	dir := newSource(t, func(s *store.Store) { storetest.Seed(t, s) })
	u := pgtest.NewDatabase(t)
	changed := false
	_, err := fromsqlite.Run(ctx, fromsqlite.Config{From: dir, To: u, Report: func(s fromsqlite.Status) {
		if s.Phase == fromsqlite.PhaseVerify && !changed {
			changed = true
			pgtest.Exec(t, u, `UPDATE events SET data = '{"changed":true}' WHERE event_id = (SELECT min(event_id) FROM events)`)
		}
	}})
	if err == nil || !strings.Contains(err.Error(), "verify events: the source has 9 rows") || !strings.Contains(err.Error(), "the copy differs") {
		t.Fatalf("a copy changed under the verification: %v, want verify events to fail", err)
	}
}
