// Package fromsqlite moves a collector's history from its SQLite file into
// a PostgreSQL database (docs/migrate-to-postgres.md): every table the
// schema has, row for row, with COPY in batches, then a verification that
// counts and digests each table on both sides.
//
// The list of tables is read from the two schemas, not written down here:
// a table added by a later migration is copied without a change to this
// package, and one that SQLite has and PostgreSQL lacks stops the copy
// before it starts. What is not copied is in skipped, each with its reason.
//
// A run that stops halfway (a crash, a kill, a lost connection) leaves the
// target with whole batches only: each batch and the record of how far its
// table got commit together, in one transaction. Running the same command
// again resumes after the last committed batch.
package fromsqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/store"
)

// Config says what to copy where.
type Config struct {
	// From is the source collector's data directory (visitrack.db).
	From string
	// To is the target's postgres:// URL: an empty database, or one a
	// previous run of the same copy left halfway.
	To string
	// Batch is the number of rows a COPY sends and a transaction commits
	// (0: DefaultBatch). A run that stops loses at most one batch's work.
	Batch int
	// Report, if set, hears how far the copy and the verification got:
	// after each committed batch and at each table's start and end.
	Report func(Status)
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// DefaultBatch rows per COPY and commit: large enough that a commit's
// fsync is a small share of the batch's time, small enough that a resumed
// run repeats little.
const DefaultBatch = 20000

// Phase is a stage of a run.
type Phase string

const (
	PhaseCopy   Phase = "copy"
	PhaseVerify Phase = "verify"
)

// Status is a run's progress.
type Status struct {
	Phase Phase
	// Table is the table at work; TableRows its rows copied (or verified)
	// so far, TableTotal its rows in the source.
	Table                 string
	TableRows, TableTotal int64
	// Rows and Total are the same over every table.
	Rows, Total int64
	// Started is when this phase began, and StartRows the rows already
	// done then (a resumed run starts past zero): the rate is
	// (Rows-StartRows) over the time since Started.
	Started   time.Time
	StartRows int64
	// TableDone is set once the table is finished.
	TableDone bool
}

// Table is one table's outcome.
type Table struct {
	Name string
	// Rows is the number of rows on each side; Digest the SHA-256 (hex)
	// of the rows in primary-key order, the same on both sides.
	Rows   int64
	Digest string
}

// Skipped is a table of the source that is not copied, and why.
type Skipped struct {
	Name, Reason string
}

// Result is a finished, verified copy.
type Result struct {
	Tables  []Table
	Skipped []Skipped
	// Resumed is set when the run continued a copy a previous run left
	// halfway.
	Resumed bool
	// KeyFile is the source's recognition key file, "" when it has none
	// (a collector that never served).
	KeyFile string
	Elapsed time.Duration
}

// Run copies the history and verifies it. The target is migrated to this
// collector's schema first; a target that holds anything else than a
// halfway copy from the same source is refused, and so is a source whose
// schema is not exactly this collector's.
func Run(ctx context.Context, cfg Config) (res *Result, err error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultBatch
	}
	if cfg.Report == nil {
		cfg.Report = func(Status) {}
	}
	start := cfg.Now()
	src, path, err := openSource(ctx, cfg.From)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	db, err := postgres.Open(ctx, cfg.To)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := postgres.Migrate(ctx, db, cfg.Now); err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	if err := partitionHistory(ctx, src, db); err != nil {
		return nil, err
	}
	// One source connection in one read transaction: the copy and the
	// verification read the same snapshot, even if something still
	// writes the file.
	sc, err := src.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer sc.Close()
	if _, err := sc.ExecContext(ctx, `BEGIN`); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer sc.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	tc, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("--to: %w", err)
	}
	defer tc.Close()
	err = tc.Raw(func(dc any) error {
		raw, ok := dc.(interface{ Raw() *pgx.Conn })
		if !ok {
			return errors.New("--to: the database is not one postgres.Open opened")
		}
		res, err = run(ctx, cfg, sc, path, raw.Raw())
		return err
	})
	if err != nil {
		return nil, err
	}
	if key := filepath.Join(cfg.From, "recognition.key"); fileExists(key) {
		res.KeyFile = key
		if err := shareKey(ctx, db, key, cfg.Now()); err != nil {
			return nil, err
		}
	}
	res.Elapsed = cfg.Now().Sub(start)
	return res, nil
}

func run(ctx context.Context, cfg Config, sc *sql.Conn, path string, pc *pgx.Conn) (*Result, error) {
	if err := sourceSchema(ctx, sc, path); err != nil {
		return nil, err
	}
	p, err := makePlan(ctx, sc, pc)
	if err != nil {
		return nil, err
	}
	unlock, err := lockTarget(ctx, pc)
	if err != nil {
		return nil, err
	}
	defer unlock()
	resumed, err := prepareTarget(ctx, pc, p, path)
	if err != nil {
		return nil, err
	}
	if err := countSource(ctx, sc, p); err != nil {
		return nil, err
	}
	c := &copier{cfg: cfg, src: sc, dst: pc, plan: p, source: path}
	if err := c.copyAll(ctx); err != nil {
		return nil, err
	}
	if err := setIdentities(ctx, pc, p); err != nil {
		return nil, err
	}
	tables, err := verify(ctx, cfg, sc, pc, p)
	if err != nil {
		return nil, err
	}
	if err := finish(ctx, pc); err != nil {
		return nil, err
	}
	return &Result{Tables: tables, Skipped: p.skipped, Resumed: resumed}, nil
}

// openSource opens dir's visitrack.db read-only.
func openSource(ctx context.Context, dir string) (*sql.DB, string, error) {
	if dir == "" {
		return nil, "", errors.New("--from: want the source collector's data directory")
	}
	path, err := filepath.Abs(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		return nil, "", fmt.Errorf("--from %s: %w", dir, err)
	}
	if !fileExists(path) {
		return nil, "", fmt.Errorf("--from %s: no visitrack.db there: give the data directory of a collector that keeps its data in SQLite", dir)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		return nil, "", fmt.Errorf("--from %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, "", fmt.Errorf("--from %s: %w", path, err)
	}
	return db, path, nil
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

// shareKey stores the source's recognition key as the key the collectors
// of the target database share (docs/deployment.md), so that every token
// and cookie issued before the move still verifies, and no variable has
// to carry it. A target that already shares another key is refused.
func shareKey(ctx context.Context, db *sql.DB, path string, now time.Time) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("recognition key: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if _, err := hex.DecodeString(key); err != nil || len(key) < 64 {
		return fmt.Errorf("recognition key %s: want at least 32 bytes in hex", path)
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO shared_secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, store.SharedRecognitionKey, key, now.UnixMilli()); err != nil {
		return fmt.Errorf("share the recognition key: %w", err)
	}
	var stored string
	if err := db.QueryRowContext(ctx, `SELECT value FROM shared_secrets WHERE name = ?`, store.SharedRecognitionKey).Scan(&stored); err != nil {
		return fmt.Errorf("share the recognition key: %w", err)
	}
	if stored != key {
		return fmt.Errorf("the target's collectors already share another recognition key than %s: tokens issued before the move would not verify", path)
	}
	return nil
}

// partitionHistory makes the target's month partitions of events for the
// months the source's events were received in, before the copy: the rows
// then land in their months, which retention can drop once emptied, and
// not all in events_default, which it never drops.
func partitionHistory(ctx context.Context, src, db *sql.DB) error {
	var first, last sql.NullInt64
	if err := src.QueryRowContext(ctx, `SELECT min(received_at), max(received_at) FROM events`).Scan(&first, &last); err != nil {
		return fmt.Errorf("read the source's events: %w", err)
	}
	if !first.Valid {
		return nil
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer tx.Rollback()
	if _, err := postgres.EnsurePartitions(ctx, tx, time.UnixMilli(first.Int64), time.UnixMilli(last.Int64)); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("--to: make the partitions of events: %w", err)
	}
	return nil
}
