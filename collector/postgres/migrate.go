package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns PostgreSQL's migrations, numbered as SQLite's are.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// migrateLock is the advisory lock the nodes of one database take to
// migrate it one at a time ("visitrack" in ASCII).
const migrateLock = 0x7669736974726163

// ourName is the shape of this collector's migration names.
var ourName = regexp.MustCompile(`^[0-9]{4}_[a-z0-9_]+\.sql$`)

// Migrate brings the database's schema up to this collector's. Nodes that
// start at the same moment queue on an advisory lock, so each migration
// runs once; the ones that wait find the work done. Each migration runs
// in a transaction with the row that records it (PostgreSQL's DDL is
// transactional), so a crash leaves it applied whole or not at all.
//
// It refuses, with a message that says so, a database that holds another
// application's tables and one whose schema a newer collector migrated.
func Migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	c, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer c.Close()
	return c.Raw(func(dc any) error {
		raw, ok := dc.(interface{ Raw() *pgx.Conn })
		if !ok {
			return fmt.Errorf("migrate: the database is not one postgres.Open opened")
		}
		return migrate(ctx, raw.Raw(), now)
	})
}

func migrate(ctx context.Context, pc *pgx.Conn, now func() time.Time) (err error) {
	if _, err := pc.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrateLock)); err != nil {
		return fmt.Errorf("migrate: take the migration lock: %w", err)
	}
	defer func() {
		// A session lock: released here, or by the session's end.
		if _, uerr := pc.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrateLock)); uerr != nil && err == nil {
			err = fmt.Errorf("migrate: release the migration lock: %w", uerr)
		}
	}()
	applied, err := appliedMigrations(ctx, pc)
	if err != nil {
		return err
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	slices.Sort(names)
	known := map[string]bool{}
	for i, name := range names {
		names[i] = strings.TrimPrefix(name, "migrations/")
		known[names[i]] = true
	}
	for _, name := range applied {
		if !known[name] {
			return fmt.Errorf("the database's schema is newer than this collector: migration %s was applied by a newer version; run that version (or newer) of the collector", name)
		}
	}
	for _, name := range names {
		if slices.Contains(applied, name) {
			continue
		}
		body, err := migrations.ReadFile("migrations/" + name)
		if err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
		// One simple-protocol query: its statements run as one
		// transaction, the record of the migration included.
		record := fmt.Sprintf("\n;INSERT INTO schema_migrations (name, applied_at) VALUES ('%s', %d)",
			strings.ReplaceAll(name, "'", "''"), now().UnixMilli())
		if _, err := pc.PgConn().Exec(ctx, string(body)+record).ReadAll(); err != nil {
			return fmt.Errorf("migrate %s: %w", name, err)
		}
	}
	return nil
}

// appliedMigrations returns the names in schema_migrations, creating the
// table in an empty database. A database with tables but none of ours is
// another application's: migrating it would mix two applications' data.
func appliedMigrations(ctx context.Context, pc *pgx.Conn) ([]string, error) {
	var cols []string
	rows, err := pc.Query(ctx, `SELECT column_name FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'schema_migrations' ORDER BY column_name`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read the schema: %w", err)
	}
	if cols, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("migrate: read the schema: %w", err)
	}
	if len(cols) == 0 {
		rows, err := pc.Query(ctx, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = current_schema() ORDER BY table_name LIMIT 6`)
		if err != nil {
			return nil, fmt.Errorf("migrate: read the schema: %w", err)
		}
		tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, fmt.Errorf("migrate: read the schema: %w", err)
		}
		if len(tables) > 0 {
			return nil, foreign(ctx, pc, tables)
		}
		if _, err := pc.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			name text COLLATE "C" PRIMARY KEY, applied_at bigint NOT NULL)`); err != nil {
			return nil, fmt.Errorf("migrate: %w", err)
		}
		return nil, nil
	}
	if !slices.Equal(cols, []string{"applied_at", "name"}) {
		return nil, foreign(ctx, pc, []string{"schema_migrations (columns " + strings.Join(cols, ", ") + ")"})
	}
	rows, err = pc.Query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("migrate: read schema_migrations: %w", err)
	}
	for _, name := range names {
		if !ourName.MatchString(name) {
			return nil, foreign(ctx, pc, []string{"schema_migrations (a migration named " + name + ")"})
		}
	}
	return names, nil
}

// foreign is the refusal of another application's database.
func foreign(ctx context.Context, pc *pgx.Conn, tables []string) error {
	var db, schema string
	if err := pc.QueryRow(ctx, `SELECT current_database(), current_schema()`).Scan(&db, &schema); err != nil {
		return errors.Join(errors.New("the database holds another application's tables"), err)
	}
	if len(tables) > 5 {
		tables = append(tables[:5], "…")
	}
	return fmt.Errorf("database %s (schema %s) holds tables that are not the collector's (%s): give the collector an empty database of its own",
		db, schema, strings.Join(tables, ", "))
}
