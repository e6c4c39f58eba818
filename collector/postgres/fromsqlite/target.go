package fromsqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// progressTable records, in the target, how far each table's copy got. It
// exists only while a copy is unfinished: its presence is what tells a
// halfway copy (resume it) from a database that holds data of its own
// (refuse it). The last batch of a table and its row here commit
// together.
const progressTable = "visitrack_migrate_progress"

// copyLock keeps two runs from copying into one database at once
// ("vtmigrat" in ASCII); a session lock, released when the run's
// connection ends, also by a crash.
const copyLock = 0x76746d6967726174

// lockTarget takes the copy lock, or says who holds it.
func lockTarget(ctx context.Context, pc *pgx.Conn) (func(), error) {
	var ok bool
	if err := pc.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(copyLock)).Scan(&ok); err != nil {
		return nil, fmt.Errorf("--to: take the copy lock: %w", err)
	}
	if !ok {
		return nil, errors.New("--to: another collector migrate is copying into this database now: let it finish")
	}
	return func() {
		pc.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(copyLock))
	}, nil
}

// prepareTarget refuses a target that holds data other than a halfway
// copy from source, and starts the progress record of a new copy. It
// reports whether the run resumes a previous one.
func prepareTarget(ctx context.Context, pc *pgx.Conn, p *plan, source string) (resumed bool, err error) {
	var exists bool
	if err := pc.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, progressTable).Scan(&exists); err != nil {
		return false, fmt.Errorf("--to: %w", err)
	}
	if exists {
		var from string
		err := pc.QueryRow(ctx, `SELECT source FROM `+progressTable+` LIMIT 1`).Scan(&from)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, fmt.Errorf("--to: read the halfway copy's progress: %w", err)
		}
		if err == nil && from != source {
			return false, fmt.Errorf("--to: the database holds a halfway copy of %s, not of %s: run collector migrate --from with that data directory again to finish it, or give an empty database", from, source)
		}
		return true, addProgress(ctx, pc, p, source)
	}
	rows, err := pc.Query(ctx, `SELECT table_name::text FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> 'schema_migrations'
		ORDER BY table_name`)
	if err != nil {
		return false, fmt.Errorf("--to: read the tables: %w", err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, fmt.Errorf("--to: read the tables: %w", err)
	}
	for _, t := range tables {
		var has bool
		if err := pc.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+quote(t)+`)`).Scan(&has); err != nil {
			return false, fmt.Errorf("--to: read %s: %w", t, err)
		}
		if has {
			var db string
			pc.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
			return false, fmt.Errorf("--to: database %s is not empty (table %s has rows): collector migrate copies into an empty database only; create one (createdb) and start no collector on it before the copy is done", db, t)
		}
	}
	tx, err := pc.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("--to: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TABLE `+progressTable+` (
		table_name text COLLATE "C" PRIMARY KEY,
		source     text NOT NULL,
		rows       bigint NOT NULL DEFAULT 0,
		last_key   text,
		done       boolean NOT NULL DEFAULT false)`); err != nil {
		return false, fmt.Errorf("--to: create %s: %w", progressTable, err)
	}
	if err := addProgress(ctx, tx, p, source); err != nil {
		return false, err
	}
	return false, tx.Commit(ctx)
}

// execer is a pgx connection or transaction.
type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// addProgress gives each table a progress row, keeping those there.
func addProgress(ctx context.Context, q execer, p *plan, source string) error {
	for _, t := range p.tables {
		if _, err := q.Exec(ctx, `INSERT INTO `+progressTable+` (table_name, source) VALUES ($1, $2)
			ON CONFLICT (table_name) DO NOTHING`, t.name, source); err != nil {
			return fmt.Errorf("--to: record the copy's progress: %w", err)
		}
	}
	return nil
}

// setIdentities moves each identity column's sequence past the values the
// copy wrote, so that the next row a collector inserts gets the next one.
func setIdentities(ctx context.Context, pc *pgx.Conn, p *plan) error {
	for _, t := range p.tables {
		for _, col := range t.identity {
			if _, err := pc.Exec(ctx, `SELECT setval(pg_get_serial_sequence($1, $2), coalesce(max(`+quote(col)+`), 0) + 1, false) FROM `+quote(t.name),
				quote(t.name), col); err != nil {
				return fmt.Errorf("--to: move the sequence of %s.%s: %w", t.name, col, err)
			}
		}
	}
	return nil
}

// finish removes the progress record of a verified copy: the database is
// the collector's from now on.
func finish(ctx context.Context, pc *pgx.Conn) error {
	if _, err := pc.Exec(ctx, `DROP TABLE `+progressTable); err != nil {
		return fmt.Errorf("--to: drop %s: %w", progressTable, err)
	}
	return nil
}
