package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
)

// WALConfig configures WAL.
type WALConfig struct {
	// Limit is the size of the WAL file past which the ingest writer runs
	// a RESTART checkpoint between two commits (default DefaultWALLimit).
	// It must be the connections' journal_size_limit (Open sets
	// DefaultWALLimit): the first commit after a restart cuts the file
	// back to that size, else the file stays past the limit and the writer
	// checkpoints after every commit.
	Limit int64
	// Every is the interval of the background PASSIVE checkpoints
	// (default 100 ms).
	Every time.Duration
	// Idle is the size above which the background truncates a log it
	// found fully copied, once the writer has not committed for Quiet
	// (defaults 4 MiB, 5 s).
	Idle   int64
	Quiet  time.Duration
	Logger *slog.Logger
}

// WAL keeps the write-ahead log of one database bounded
// (docs/operations.md#the-write-ahead-log-stays-bounded), and is
// the native store.Engine.
//
// A PASSIVE checkpoint copies frames back into the database without
// blocking anyone, but the log only starts again from its beginning when
// a write transaction begins with every frame copied; under continuous
// writes that moment never comes, and the log grew to gigabytes. So:
//   - a background goroutine runs PASSIVE checkpoints often (every Every,
//     and without pause while writes come and the log is past three
//     quarters of Limit), doing the bulk of the copying off the write path;
//   - when the file passes Limit, the ingest writer itself runs a RESTART
//     checkpoint between two commits (AfterCommit): no write of its own is
//     in flight, so only the frames written since the last background
//     round remain to copy, and the next commit writes the log from the
//     start of the file again;
//   - when the log is fully copied and ingest quiet, the background
//     truncates it.
//
// Checkpoints run on one dedicated connection whose busy timeout is short:
// a reader holding an old snapshot (a long REST read) makes a RESTART
// give up instead of stalling ingest; it is tried again shortly after.
type WAL struct {
	cfg  WALConfig
	path string // the -wal file
	// frameSize is a log frame's size: a page and its 24-byte header.
	frameSize int64

	mu   sync.Mutex // one checkpoint at a time; guards conn
	conn *sql.Conn
	// retryAt (Unix ns) holds the writer's next RESTART attempt back
	// after one that a reader kept from finishing.
	retryAt atomic.Int64
	// pending is when the writer began waiting to checkpoint (Unix ns; 0
	// when it is not waiting).
	pending atomic.Int64
	// restarted and gaveUp count the writer's checkpoints that restarted
	// the log, and those that readers kept from finishing.
	restarted, gaveUp atomic.Int64
	lastCommit        atomic.Int64 // Unix ns of the writer's last commit
	// stalls and stalled count the writer's checkpoints and the time
	// they held ingest (ns), waiting for its turn included: what the
	// acks behind them waited.
	stalls, stalled atomic.Int64
	// rounds counts the background's checkpoints.
	rounds atomic.Int64

	stop context.CancelFunc
	done chan struct{}
}

// DefaultWALLimit is the size of the WAL file past which the ingest
// writer restarts the log, and the journal_size_limit Open sets.
const DefaultWALLimit = 64 << 20

// checkpointBusyTimeout bounds how long a checkpoint waits for the write
// lock or for readers before it gives up for this round.
const checkpointBusyTimeout = 20 * time.Millisecond

// farBusyTimeout is that wait when the log is past twice its limit.
const farBusyTimeout = 250 * time.Millisecond

// StartWAL starts keeping the WAL of the database at dbPath (opened with
// Open as db) bounded. Close stops it before the database is closed.
func StartWAL(db *sql.DB, dbPath string, cfg WALConfig) (*WAL, error) {
	if cfg.Limit <= 0 {
		cfg.Limit = DefaultWALLimit
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 4 << 20
	}
	if cfg.Quiet <= 0 {
		cfg.Quiet = 5 * time.Second
	}
	if cfg.Every <= 0 {
		cfg.Every = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("wal checkpoint connection: %w", err)
	}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", checkpointBusyTimeout.Milliseconds())); err != nil {
		conn.Close()
		return nil, fmt.Errorf("wal checkpoint connection: %w", err)
	}
	var pageSize int64
	if err := conn.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		conn.Close()
		return nil, fmt.Errorf("wal checkpoint connection: %w", err)
	}
	w := &WAL{cfg: cfg, path: dbPath + "-wal", conn: conn, done: make(chan struct{}), frameSize: pageSize + 24}
	ctx, w.stop = context.WithCancel(ctx)
	go w.run(ctx)
	return w, nil
}

// Close stops the background checkpoints and releases the connection.
func (w *WAL) Close() error {
	w.stop()
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.conn.Close()
}

// Size is the WAL file's size in bytes (0 when there is none).
func (w *WAL) Size() int64 {
	fi, err := os.Stat(w.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Restarts returns how many of the writer's checkpoints restarted the
// log, and how many readers kept from finishing.
func (w *WAL) Restarts() (done, gaveUp int64) { return w.restarted.Load(), w.gaveUp.Load() }

// Rounds returns how many checkpoints the background ran.
func (w *WAL) Rounds() int64 { return w.rounds.Load() }

// Stalls returns how many checkpoints the writer ran and how long they
// held it (ingest waits meanwhile).
func (w *WAL) Stalls() (n int64, total time.Duration) {
	return w.stalls.Load(), time.Duration(w.stalled.Load())
}

// AfterCommit runs a RESTART checkpoint when the log passed the limit.
// It is called by the ingest writer between transactions (store.Engine).
func (w *WAL) AfterCommit(ctx context.Context) {
	now := time.Now().UnixNano()
	w.lastCommit.Store(now)
	size := w.Size()
	far := size >= 2*w.cfg.Limit
	if size <= w.cfg.Limit || !far && now < w.retryAt.Load() {
		return
	}
	// The background starts no new round while the writer waits for its
	// turn, so the writer gets it within one round.
	w.pending.CompareAndSwap(0, now)
	start := time.Now()
	if far {
		// Far over: wait for the background round to end.
		w.mu.Lock()
	} else if !w.mu.TryLock() {
		// A background round is copying: the next commit tries again, with
		// less left to copy.
		return
	}
	defer w.mu.Unlock()
	defer func() {
		w.stalls.Add(1)
		w.stalled.Add(int64(time.Since(start)))
	}()
	if far {
		// Readers kept the short attempts from finishing: wait longer for
		// them this time, holding ingest back rather than the disk.
		w.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", farBusyTimeout.Milliseconds()))
		defer w.conn.ExecContext(ctx, fmt.Sprintf("PRAGMA busy_timeout = %d", checkpointBusyTimeout.Milliseconds()))
	}
	// RESTART, not TRUNCATE: the next commit writes the log from its start
	// again, over the same blocks, and cuts the file back to
	// journal_size_limit (Open). Cutting it to zero here and growing it
	// again cost block allocation (and TRIMs on a disk mounted with
	// discard) on the write path: p99 up to 3 times higher.
	done, err := w.checkpoint(ctx, "RESTART")
	switch {
	case err != nil:
		w.cfg.Logger.Warn("wal checkpoint", "mode", "RESTART", "err", err)
	case !done:
		// A reader holds an old snapshot: let the background copy
		// meanwhile.
		w.gaveUp.Add(1)
		w.retryAt.Store(time.Now().Add(w.cfg.Every).UnixNano())
	default:
		w.restarted.Add(1)
	}
	w.pending.Store(0)
}

// StorageFull reports whether err is SQLite's "database or disk is full",
// or an I/O error from a full disk or quota (store.Engine).
func (w *WAL) StorageFull(err error) bool { return IsStorageFull(err) }

// IsStorageFull reports whether err is SQLite's "database or disk is
// full", or an I/O error from a full disk or quota.
func IsStorageFull(err error) bool {
	var e sqlite3.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code == sqlite3.ErrFull || e.SystemErrno == syscall.ENOSPC || e.SystemErrno == syscall.EDQUOT
}

func (w *WAL) run(ctx context.Context) {
	defer close(w.done)
	t := time.NewTimer(w.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next := w.cfg.Every
		if p := w.pending.Load(); p != 0 {
			if time.Since(time.Unix(0, p)) < time.Second {
				t.Reset(next)
				continue // the writer checkpoints at its next commit
			}
			// Writes stopped before that commit came: the background
			// takes over.
			w.pending.CompareAndSwap(p, 0)
		}
		w.mu.Lock()
		done, frames, err := w.passive(ctx)
		w.rounds.Add(1)
		quiet := time.Since(time.Unix(0, w.lastCommit.Load())) >= w.cfg.Quiet
		if err == nil && done && quiet && w.Size() > w.cfg.Idle {
			// Everything is copied and ingest is quiet: give the disk its
			// space back. Not while ingest runs: the cut holds the write
			// lock, and the writer would wait for it.
			_, err = w.checkpoint(ctx, "TRUNCATE")
		}
		w.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			w.cfg.Logger.Debug("wal checkpoint", "err", err)
		}
		writing := time.Since(time.Unix(0, w.lastCommit.Load())) < w.cfg.Every
		if writing && int64(frames)*w.frameSize >= w.cfg.Limit*3/4 {
			// The writer restarts the log soon, and copies, with ingest
			// waiting, what this goroutine has not: keep that little by
			// copying without pause until it does. (In a soak at 30k
			// events/s the writer's checkpoints took 7-8 ms instead of
			// 23-43 ms, and the ack p99 went from 68-80 to 30 ms.)
			next = time.Millisecond
		}
		t.Reset(next)
	}
}

// passive runs a PASSIVE checkpoint; frames is the length of the log in
// frames (from its start, whatever the file's size).
func (w *WAL) passive(ctx context.Context) (done bool, frames int, err error) {
	var busy, copied int
	err = w.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	if err != nil {
		return false, 0, err
	}
	return busy == 0 && frames == copied, frames, nil
}

// checkpoint runs one checkpoint in mode; done reports whether every frame
// of the log was copied (and, for RESTART and TRUNCATE, the log restarts).
func (w *WAL) checkpoint(ctx context.Context, mode string) (done bool, err error) {
	var busy, logFrames, copied int
	err = w.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &logFrames, &copied)
	if err != nil {
		return false, err
	}
	return busy == 0 && logFrames == copied, nil
}
