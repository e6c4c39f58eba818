// Package sqlite opens the native collector's embedded database with
// github.com/mattn/go-sqlite3, in WAL mode.
package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3"
)

// driverName is go-sqlite3 with the connection settings below.
const driverName = "sqlite3_visitrack"

var register sync.Once

// maxIdleConns is how many open connections the pool keeps between
// queries; see Open.
const maxIdleConns = 8

// Open opens (creating if needed) the SQLite file at path with the settings
// the collector relies on: WAL; synchronous=NORMAL (durable across a crash
// of the process; a power cut may lose the last transactions); a busy
// timeout for readers; immediate write transactions; and no automatic
// checkpoints: run StartWAL beside it. Temporary files stay in
// memory: a multi-row INSERT keeps a statement journal, which on disk
// more than doubled the bytes ingest wrote per event.
//
// An automatic checkpoint runs inside the commit that crosses the
// threshold, and the ingest writer's acks wait behind it; the events index
// rewrites one leaf per active visit, so the copies are large. Checkpoints
// in their own goroutine and connection (PASSIVE: they never block the
// writer) keep them off the write path; see WAL for how the log is
// still bounded.
//
// secure_delete is on for every connection: SQLite zeroes the bytes of
// deleted rows, of cells an update moves, and of pages it frees, so that
// an erased person's data does not linger in free space
// (docs/security.md#erasure). Old copies in the WAL go with Purge, after each erasure.
func Open(path string) (*sql.DB, error) {
	register.Do(func() {
		sql.Register(driverName, &sqlite3.SQLiteDriver{
			ConnectHook: func(c *sqlite3.SQLiteConn) error {
				_, err := c.Exec("PRAGMA wal_autocheckpoint = 0; PRAGMA temp_store = MEMORY; PRAGMA secure_delete = ON", nil)
				if err == nil {
					// A log that restarts is cut back to this size (WAL).
					_, err = c.Exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", DefaultWALLimit), nil)
				}
				return err
			},
		})
	})
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-32000")
	db, err := sql.Open(driverName, "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	// database/sql keeps 2 idle connections by default: under concurrent
	// requests (the visitor data read of each /v1/collect request) the
	// others were opened (connect hook, pragmas, an empty page cache) and
	// closed again for every few queries. (go-sqlite3's statement cache,
	// _stmt_cache_size, is not used: with it a write's failure on a full
	// disk went unreported, daemon's TestDiskFull.)
	db.SetMaxIdleConns(maxIdleConns)
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

// Purge copies the whole WAL into the database and truncates the WAL to
// zero bytes (a TRUNCATE checkpoint), so that no old frame keeps a copy of
// rows deleted before it: the store runs it after each erasure. The
// checkpoint waits (busy timeout) for the writer and for readers of older
// snapshots, and holds new writers back meanwhile; while a long reader
// keeps it from finishing, it tries again until ctx ends.
func Purge(ctx context.Context, db *sql.DB) error {
	wait := 50 * time.Millisecond
	for {
		var busy, logFrames, checkpointed int
		err := db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &checkpointed)
		if err == nil && busy == 0 {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("a reader or writer kept it from finishing (%d of %d frames copied)", checkpointed, logFrames)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("purge the WAL: %w (%w)", err, ctx.Err())
		case <-time.After(wait):
			wait = min(2*wait, time.Second)
		}
	}
}
