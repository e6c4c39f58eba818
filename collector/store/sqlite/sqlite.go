// Package sqlite opens the native collector's embedded database with
// github.com/mattn/go-sqlite3, in WAL mode.
package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"

	_ "github.com/mattn/go-sqlite3" // registers "sqlite3"
)

// Open opens (creating if needed) the SQLite file at path with the settings
// the collector relies on: WAL, synchronous=NORMAL (durable across a process
// crash; a power cut may lose the last transactions), a busy timeout for
// readers, and foreign keys off (D1 parity).
func Open(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL")
	q.Set("_busy_timeout", "5000")
	q.Set("_txlock", "immediate")
	q.Set("_cache_size", "-20000")
	db, err := sql.Open("sqlite3", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}
