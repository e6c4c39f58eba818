package fromsqlite

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver, for the source

	"github.com/visitrack/visitrack/collector/store"
)

// skip names the source tables that are not copied, and why. Every other
// table of the source is copied; one without a twin in the target stops
// the run before it copies anything.
var skip = map[string]string{
	"schema_migrations": "the target records its own migrations; both schemas are this collector's (checked before the copy)",
}

// skipReason returns why table is not copied, "" when it is.
func skipReason(table string) string {
	if r, ok := skip[table]; ok {
		return r
	}
	if strings.HasPrefix(table, "sqlite_") {
		return "SQLite's own bookkeeping (AUTOINCREMENT counters, planner statistics)"
	}
	return ""
}

// plan is what to copy: the tables in the order they are copied.
type plan struct {
	tables  []*table
	skipped []Skipped
}

// table is one table to copy. cols are the columns both sides store, in
// the target's order (generated columns are left out: each side computes
// its own); key is the primary key, the order of the copy and of the
// digest; identity lists the target's identity columns, whose sequences
// are moved past the copied values at the end.
type table struct {
	name     string
	cols     []string
	key      []string
	text     map[string]bool // target columns of type text
	identity []string
	total    int64 // rows in the source
}

// sourceSchema checks that the source's migrations are exactly this
// collector's: an older file has other columns (start this collector on
// it once to upgrade it), a newer one columns this binary does not know.
func sourceSchema(ctx context.Context, sc *sql.Conn, path string) error {
	rows, err := sc.QueryContext(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
	if err != nil {
		return fmt.Errorf("--from %s: not a collector's database (%v)", path, err)
	}
	applied, err := collect[string](rows)
	if err != nil {
		return fmt.Errorf("--from %s: read schema_migrations: %w", path, err)
	}
	known, err := fs.Glob(store.Migrations(), "*.sql")
	if err != nil {
		return err
	}
	for _, name := range applied {
		if !slices.Contains(known, name) {
			return fmt.Errorf("--from %s: the database was migrated by a newer collector (migration %s): run that version's collector migrate", path, name)
		}
	}
	for _, name := range known {
		if !slices.Contains(applied, name) {
			return fmt.Errorf("--from %s: the database's schema is older than this collector (migration %s not applied): start this collector on the data directory once, stop it, then migrate", path, name)
		}
	}
	return nil
}

// makePlan reads both schemas and pairs their tables.
func makePlan(ctx context.Context, sc *sql.Conn, pc *pgx.Conn) (*plan, error) {
	rows, err := sc.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read the source's tables: %w", err)
	}
	names, err := collect[string](rows)
	if err != nil {
		return nil, fmt.Errorf("read the source's tables: %w", err)
	}
	p := &plan{}
	for _, name := range names {
		if r := skipReason(name); r != "" {
			p.skipped = append(p.skipped, Skipped{Name: name, Reason: r})
			continue
		}
		t, err := pairTable(ctx, sc, pc, name)
		if err != nil {
			return nil, err
		}
		p.tables = append(p.tables, t)
	}
	return p, nil
}

// pairTable reads table name on both sides and checks that they store the
// same columns under the same primary key.
func pairTable(ctx context.Context, sc *sql.Conn, pc *pgx.Conn, name string) (*table, error) {
	t := &table{name: name, text: map[string]bool{}}
	rows, err := pc.Query(ctx, `SELECT column_name::text, data_type::text, is_generated::text, is_identity::text
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1
		ORDER BY ordinal_position`, name)
	if err != nil {
		return nil, fmt.Errorf("read the target's table %s: %w", name, err)
	}
	var pgCols []string
	for rows.Next() {
		var col, typ, generated, identity string
		if err := rows.Scan(&col, &typ, &generated, &identity); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read the target's table %s: %w", name, err)
		}
		if generated == "ALWAYS" {
			continue
		}
		pgCols = append(pgCols, col)
		t.text[col] = typ == "text" || typ == "character varying"
		if identity == "YES" {
			t.identity = append(t.identity, col)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the target's table %s: %w", name, err)
	}
	if len(pgCols) == 0 {
		return nil, fmt.Errorf("table %s of the source has no twin in the target: this collector's PostgreSQL migrations lack it", name)
	}
	// table_xinfo: hidden is 2 or 3 for generated columns; pk is the
	// column's position in the primary key (0: not in it).
	srows, err := sc.QueryContext(ctx, `SELECT name, hidden, pk FROM pragma_table_xinfo(?) ORDER BY cid`, name)
	if err != nil {
		return nil, fmt.Errorf("read the source's table %s: %w", name, err)
	}
	defer srows.Close()
	var liteCols []string
	keyAt := map[int]string{}
	for srows.Next() {
		var col string
		var hidden, pk int
		if err := srows.Scan(&col, &hidden, &pk); err != nil {
			return nil, fmt.Errorf("read the source's table %s: %w", name, err)
		}
		if hidden == 2 || hidden == 3 {
			continue
		}
		liteCols = append(liteCols, col)
		if pk > 0 {
			keyAt[pk] = col
		}
	}
	if err := srows.Err(); err != nil {
		return nil, fmt.Errorf("read the source's table %s: %w", name, err)
	}
	// The target spells out SQLite's implicit rowid where the store reads
	// it (events, tokens): it is copied, so that export cursors and the
	// order of tokens stay as they were.
	if slices.Contains(pgCols, "rowid") && !slices.Contains(liteCols, "rowid") {
		liteCols = append(liteCols, "rowid")
	}
	a, b := slices.Sorted(slices.Values(pgCols)), slices.Sorted(slices.Values(liteCols))
	if !slices.Equal(a, b) {
		return nil, fmt.Errorf("table %s: the source has columns (%s), the target (%s): this collector's two schemas differ",
			name, strings.Join(b, ", "), strings.Join(a, ", "))
	}
	t.cols = pgCols
	for i := 1; i <= len(keyAt); i++ {
		t.key = append(t.key, keyAt[i])
	}
	if len(t.key) == 0 || len(t.key) != len(keyAt) {
		return nil, fmt.Errorf("table %s has no primary key in the source: the copy cannot resume or verify it in order", name)
	}
	pgKey, err := targetKey(ctx, pc, name)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(pgKey, t.key) {
		return nil, fmt.Errorf("table %s: the primary key is (%s) in the source, (%s) in the target",
			name, strings.Join(t.key, ", "), strings.Join(pgKey, ", "))
	}
	return t, nil
}

// targetKey returns the primary key's columns of the target's table.
func targetKey(ctx context.Context, pc *pgx.Conn, name string) ([]string, error) {
	rows, err := pc.Query(ctx, `SELECT a.attname::text FROM pg_index i
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
		WHERE i.indrelid = to_regclass(quote_ident($1)) AND i.indisprimary
		ORDER BY array_position(i.indkey::int2[], a.attnum)`, name)
	if err != nil {
		return nil, fmt.Errorf("read the target's primary key of %s: %w", name, err)
	}
	key, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the target's primary key of %s: %w", name, err)
	}
	return key, nil
}

// countSource counts each table's rows, for the progress and the check.
func countSource(ctx context.Context, sc *sql.Conn, p *plan) error {
	for _, t := range p.tables {
		if err := sc.QueryRowContext(ctx, `SELECT count(*) FROM `+quote(t.name)).Scan(&t.total); err != nil {
			return fmt.Errorf("count the source's %s: %w", t.name, err)
		}
	}
	return nil
}

// quote quotes an identifier for either engine.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// quoteAll quotes each name and joins them with commas.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}

// collect reads a one-column result.
func collect[T any](rows *sql.Rows) ([]T, error) {
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
