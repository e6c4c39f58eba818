package daemon

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/visitrack/visitrack/collector/postgres"
	"github.com/visitrack/visitrack/collector/sqlite"
)

const backupUsage = `usage: collector backup [--data-dir DIR] FILE

Writes a consistent copy of <data-dir>/visitrack.db to FILE while the
collector serves (SQLite's VACUUM INTO: one read snapshot, writers go on),
then prints one line with the file's size and its event count. FILE must
not exist. --data-dir defaults to $VISITRACK_DATA_DIR, else ./data.

Restore: stop the collector, remove <data-dir>/visitrack.db-wal and
visitrack.db-shm, copy FILE to <data-dir>/visitrack.db. Keep
<data-dir>/recognition.key with your backups: it is not in the database.
`

// Backup implements "collector backup [--data-dir DIR] FILE".
func Backup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("collector backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, backupUsage, "\nFlags:\n"); fs.PrintDefaults() }
	def := getenv("VISITRACK_DATA_DIR")
	if def == "" {
		def = "./data"
	}
	dataDir := fs.String("data-dir", def, "the collector's data directory")
	database := fs.String("database", getenv("VISITRACK_DATABASE"), "the collector's --database; a PostgreSQL one is backed up with PostgreSQL's tools")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return errors.New("backup: want exactly one FILE")
	}
	if postgres.IsURL(*database) {
		return errors.New("backup: the database is PostgreSQL: back it up with PostgreSQL's own tools " +
			"(pg_dump, pg_basebackup, or your provider's backups); this command copies SQLite only")
	}
	size, events, err := BackupTo(ctx, *dataDir, fs.Arg(0))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes, %d events\n", fs.Arg(0), size, events)
	return nil
}

// BackupTo writes a consistent copy of dataDir's database to file, which
// must not exist, and returns the copy's size and event count. The copy
// is written beside file under a temporary name, synced, and linked to
// file only when complete: a failed backup leaves no file behind.
func BackupTo(ctx context.Context, dataDir, file string) (size, events int64, err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("backup: %w", err)
		}
	}()
	src := filepath.Join(dataDir, "visitrack.db")
	if _, err := os.Stat(src); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, 0, fmt.Errorf("no database at %s: is --data-dir right?", src)
		}
		return 0, 0, err
	}
	if _, err := os.Lstat(file); err == nil {
		return 0, 0, fmt.Errorf("%s exists: refusing to overwrite it", file)
	} else if !errors.Is(err, os.ErrNotExist) {
		return 0, 0, err
	}
	dir := filepath.Dir(file)
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return 0, 0, fmt.Errorf("directory %s does not exist", dir)
	}
	// VACUUM INTO accepts an empty file: create it first, private, since
	// the copy holds visitors' data.
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".partial-*")
	if err != nil {
		return 0, 0, err
	}
	tmpName := tmp.Name()
	tmp.Close()
	defer os.Remove(tmpName) // after the link, file keeps the data

	db, err := sqlite.Open(src)
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", tmpName); err != nil {
		if sqlite.IsStorageFull(err) {
			return 0, 0, fmt.Errorf("the disk of %s is full: %w", dir, err)
		}
		return 0, 0, fmt.Errorf("copy to %s: %w", dir, err)
	}
	if err := syncFile(tmpName); err != nil {
		return 0, 0, err
	}
	if events, err = countEvents(ctx, tmpName); err != nil {
		return 0, 0, err
	}
	// Link, not rename: it fails if file appeared meanwhile.
	if err := os.Link(tmpName, file); err != nil {
		return 0, 0, err
	}
	fi, err := os.Stat(file)
	if err != nil {
		return 0, 0, err
	}
	return fi.Size(), events, nil
}

func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		if errors.Is(err, syscall.ENOSPC) {
			return fmt.Errorf("the disk of %s is full: %w", filepath.Dir(path), err)
		}
		return err
	}
	return nil
}

// countEvents counts the events in the copy. Closing it leaves no -wal
// or -shm file beside it.
func countEvents(ctx context.Context, path string) (int64, error) {
	db, err := sqlite.Open(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int64
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM events").Scan(&n); err != nil {
		return 0, fmt.Errorf("count the copy's events: %w", err)
	}
	return n, nil
}
