package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/visitrack/visitrack/collector/postgres/fromsqlite"
)

const migrateUsage = `usage: collector migrate --from DATA_DIR --to postgres://USER:PASSWORD@HOST:PORT/DB

Copies a SQLite collector's whole history (every table of its database)
into an empty PostgreSQL database, then verifies the copy: the rows of
each table are counted and digested on both sides. Stop the collector
that serves DATA_DIR first. A run that stops halfway (killed, a lost
connection) resumes where it stopped when run again with the same
flags. DATA_DIR/recognition.key becomes the key the collectors of the
target share, so that the tokens and cookies already issued keep working.
docs/migrate-to-postgres.md describes the move.

--from defaults to $VISITRACK_DATA_DIR, else ./data; --to to
$VISITRACK_DATABASE.
`

// runMigrate implements "collector migrate".
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("collector migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, migrateUsage, "\nFlags:\n"); fs.PrintDefaults() }
	from := getenv("VISITRACK_DATA_DIR")
	if from == "" {
		from = "./data"
	}
	fs.StringVar(&from, "from", from, "the SQLite collector's data directory (env VISITRACK_DATA_DIR)")
	to := getenv("VISITRACK_DATABASE")
	fs.StringVar(&to, "to", to, "the postgres:// URL of an empty database (env VISITRACK_DATABASE)")
	batch := fs.Int("batch", fromsqlite.DefaultBatch, "rows per COPY and commit")
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	switch {
	case len(rest) != 0:
		return fmt.Errorf("migrate: unexpected arguments %q", rest)
	case to == "":
		return errors.New("migrate: --to is required: the postgres:// URL of the database to copy into")
	case *batch <= 0:
		return fmt.Errorf("migrate: --batch %d: want a positive number of rows", *batch)
	}
	// Ctrl-C stops the copy between batches; the next run resumes.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	p := newProgress(stdout, time.Now)
	res, err := fromsqlite.Run(ctx, fromsqlite.Config{From: from, To: to, Batch: *batch, Report: p.report})
	p.end()
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("migrate: stopped (%w): run the same command again to resume", err)
		}
		return fmt.Errorf("migrate: %w", err)
	}
	printResult(stdout, res)
	return nil
}

// printResult lists each table's rows and digest, what was skipped, and
// what the operator does next about the recognition key.
func printResult(w io.Writer, res *fromsqlite.Result) {
	var rows int64
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "table\trows\tdigest (SHA-256, equal on both sides)\t")
	for _, t := range res.Tables {
		rows += t.Rows
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", t.Name, thousands(t.Rows), t.Digest[:16])
	}
	tw.Flush()
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "not copied: %s: %s\n", s.Name, s.Reason)
	}
	how := "copied"
	if res.Resumed {
		how = "copied (resuming an earlier run)"
	}
	fmt.Fprintf(w, "%s and verified %s rows in %d tables in %s\n", how, thousands(rows), len(res.Tables), res.Elapsed.Round(time.Second))
	if res.KeyFile != "" {
		fmt.Fprintf(w, "recognition key: %s is now the key the collectors of this database share (tokens and cookies issued before the move still verify)\n", res.KeyFile)
	} else {
		fmt.Fprintln(w, "recognition key: the source has none (its collector never started): nothing to carry over")
	}
}

// progress shows how far the copy got: on a terminal one line rewritten
// in place, at most ten times a second; elsewhere (a log, a pipe) a plain
// line per finished table and one every few seconds in a long table.
type progress struct {
	w        io.Writer
	now      func() time.Time
	terminal bool
	last     time.Time
	open     bool // a terminal line waits for its end
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	f, ok := w.(*os.File)
	return &progress{w: w, now: now, terminal: ok && term.IsTerminal(int(f.Fd()))}
}

// plainEvery spaces the plain lines within a table.
const plainEvery = 5 * time.Second

func (p *progress) report(s fromsqlite.Status) {
	now := p.now()
	switch {
	case s.TableDone:
		p.line(s, now, true)
	case p.terminal && now.Sub(p.last) >= 100*time.Millisecond:
		p.line(s, now, false)
	case !p.terminal && s.TableRows > 0 && now.Sub(p.last) >= plainEvery:
		p.line(s, now, false)
	}
}

func (p *progress) line(s fromsqlite.Status, now time.Time, done bool) {
	p.last = now
	text := fmt.Sprintf("%s %s: %s of %s rows", s.Phase, s.Table, thousands(s.TableRows), thousands(s.TableTotal))
	if s.TableTotal > 0 {
		text += fmt.Sprintf(" (%d%%)", s.TableRows*100/s.TableTotal)
	}
	if elapsed := now.Sub(s.Started); elapsed >= time.Second && s.Rows > s.StartRows {
		rate := float64(s.Rows-s.StartRows) / elapsed.Seconds()
		left := time.Duration(float64(s.Total-s.Rows) / rate * float64(time.Second))
		text += fmt.Sprintf(", %s rows/s, %s of %s in all, about %s left", thousands(int64(rate)),
			thousands(s.Rows), thousands(s.Total), left.Round(time.Second))
	}
	if !p.terminal {
		fmt.Fprintln(p.w, text)
		return
	}
	fmt.Fprint(p.w, "\r\033[K", text)
	p.open = !done
	if done {
		fmt.Fprintln(p.w)
	}
}

// end closes a terminal line left open by a run that stopped.
func (p *progress) end() {
	if p.open {
		fmt.Fprintln(p.w)
		p.open = false
	}
}

// thousands writes n with commas: 1,234,567.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
