package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/sqlite"
)

// TestWALBounded: a writer that commits without pause, with a reader
// beside it, keeps the WAL near the limit (PASSIVE checkpoints alone let
// it grow with every commit), and once writes stop the background
// truncates it.
func TestWALBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const limit = 1 << 20
	wal, err := sqlite.StartWAL(db, path, sqlite.WALConfig{Limit: limit, Every: 5 * time.Millisecond, Idle: 64 << 10, Quiet: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer wal.Close()
	ctx := context.Background()
	// One connection beside the WAL's, with the journal_size_limit that
	// Open gives the default limit, scaled down as the limit is (the
	// restart cuts the file back to it).
	db.SetMaxOpenConns(2)
	db.SetMaxIdleConns(2)
	if _, err := db.Exec(fmt.Sprintf("PRAGMA journal_size_limit = %d", limit)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	readerDone := make(chan error)
	go func() { // short reads, as the REST API makes
		for {
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
			var n int
			if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil {
				readerDone <- err
				return
			}
		}
	}()
	row := strings.Repeat("x", 4000)
	var peak int64
	for i := range 300 { // about 30 MB of rows: 30 times the limit
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for range 25 {
			if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, row); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := tx.Exec(`DELETE FROM t WHERE id <= ?`, i*25-500); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		wal.AfterCommit(ctx)
		peak = max(peak, walSize(path))
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatal(err)
	}
	// The limit, plus what commits add while the writer waits for the
	// background round (it blocks at twice the limit), plus one commit.
	if peak > 2*limit+512<<10 {
		done, gaveUp := wal.Restarts()
		t.Fatalf("the WAL reached %d bytes with a limit of %d (%d restarts, %d given up)", peak, limit, done, gaveUp)
	}
	deadline := time.Now().Add(30 * time.Second)
	for walSize(path) > 64<<10 {
		if time.Now().After(deadline) {
			t.Fatalf("the WAL is still %d bytes long after the writes stopped", walSize(path))
		}
		time.Sleep(10 * time.Millisecond)
	}
	done, gaveUp := wal.Restarts()
	// Each restart lets the log fill the file again: about one per limit
	// written (30 MB), not one per commit (300).
	if done > 60 {
		t.Errorf("%d restarts for 300 commits: the writer checkpoints after every commit", done)
	}
	t.Logf("WAL peak %d bytes (limit %d); %d restarts, %d given up", peak, limit, done, gaveUp)
}

func walSize(dbPath string) int64 {
	fi, err := os.Stat(dbPath + "-wal")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// TestWALCopiesAheadOfTheRestart: while writes come and the log is past
// three quarters of its limit, the background copies without waiting for
// its interval, so that the writer's restart finds little left to copy
// (its checkpoint holds ingest back meanwhile).
func TestWALCopiesAheadOfTheRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v.db")
	db, err := sqlite.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const limit = 16 << 20
	every := 250 * time.Millisecond
	wal, err := sqlite.StartWAL(db, path, sqlite.WALConfig{Limit: limit, Every: every})
	if err != nil {
		t.Fatal(err)
	}
	defer wal.Close()
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)`); err != nil {
		t.Fatal(err)
	}
	row := strings.Repeat("x", 4000)
	commit := func(rows int) {
		t.Helper()
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		for range rows {
			if _, err := tx.Exec(`INSERT INTO t (v) VALUES (?)`, row); err != nil {
				t.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		wal.AfterCommit(context.Background())
	}
	// About 13 MB of log at once, past three quarters of the limit, then
	// small commits for four intervals, staying short of the limit (no
	// restart).
	for range 125 {
		commit(25)
	}
	// A reader in the middle of a long query: without it SQLite restarts a
	// fully copied log by itself at the next write, and there is nothing
	// to copy ahead of.
	rows, err := db.Query(`SELECT v FROM t`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatal("no row to read")
	}
	start := time.Now()
	for time.Since(start) < 4*every {
		commit(1)
		time.Sleep(20 * time.Millisecond)
	}
	if wal.Size() >= limit {
		t.Fatalf("the log reached %d bytes, the limit: the test must stay short of it", wal.Size())
	}
	elapsed := time.Since(start)
	// At its interval alone the background would have run at most
	// elapsed/every rounds.
	paced := int64(elapsed/every) + 1
	if rounds := wal.Rounds(); rounds < paced+5 {
		t.Fatalf("%d background rounds in %s (interval %s): it did not copy ahead of the restart", rounds, elapsed, every)
	}
}
