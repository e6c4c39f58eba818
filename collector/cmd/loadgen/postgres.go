package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/collector/sqlite"
)

// pgBench is a -postgres run (make bench-postgres): the same load on one
// SQLite collector and on nodes collectors sharing one PostgreSQL
// database, in the same run on the same machine.
type pgBench struct {
	bin              collectorBin
	nodes            int
	database         string // an empty database; "" starts a durable throwaway cluster
	visitors         int
	perFrame         int
	paced            pacing
	duration, warmup time.Duration
}

// engineResult is one engine's figures.
type engineResult struct {
	name            string
	saturation      loadResult
	paced           loadResult
	events, bytes   int64
	durableSettings string
}

// benchPostgres measures SQLite, then PostgreSQL, and prints both side by
// side. The throwaway cluster runs with PostgreSQL's durable defaults
// (fsync, synchronous_commit, full_page_writes on), unlike the tests'
// cluster: an ack means the commit reached the disk.
func benchPostgres(b pgBench) error {
	if b.nodes < 1 {
		return errors.New("-nodes must be at least 1")
	}
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "visitrack-bench-postgres-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("load average at the start: %s\n", loadAverage())

	lite, err := b.runSQLite(filepath.Join(tmp, "sqlite"))
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	syscall.Sync() // SQLite's writes are not written back during PostgreSQL's run

	url := b.database
	if url == "" {
		cluster, err := pgtest.Start(ctx, "fsync=on", "synchronous_commit=on", "full_page_writes=on", "shared_buffers=128MB")
		if err != nil {
			return err
		}
		defer cluster.Stop()
		admin, err := sql.Open("pgx", cluster.URL("postgres"))
		if err != nil {
			return err
		}
		_, err = admin.ExecContext(ctx, `CREATE DATABASE bench`)
		admin.Close()
		if err != nil {
			return fmt.Errorf("create the bench database: %w", err)
		}
		url = cluster.URL("bench")
	}
	pg, err := b.runPostgres(ctx, url, filepath.Join(tmp, "pg"))
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}

	fmt.Printf("\n%-28s %14s %14s\n", "", lite.name, pg.name)
	fmt.Printf("%-28s %14.0f %14.0f\n", "durable events/s (saturated)", lite.saturation.rate, pg.saturation.rate)
	fmt.Printf("%-28s %14s %14s\n", "  ack p99 there (queueing)", lite.saturation.p99.Round(time.Millisecond), pg.saturation.p99.Round(time.Millisecond))
	fmt.Printf("%-28s %14.0f %14.0f\n", fmt.Sprintf("paced at %d events/s", b.paced.rate), lite.paced.rate, pg.paced.rate)
	fmt.Printf("%-28s %14s %14s\n", "  ack p50", lite.paced.p50.Round(100*time.Microsecond), pg.paced.p50.Round(100*time.Microsecond))
	fmt.Printf("%-28s %14s %14s\n", "  ack p99", lite.paced.p99.Round(100*time.Microsecond), pg.paced.p99.Round(100*time.Microsecond))
	fmt.Printf("%-28s %14d %14d\n", "events stored", lite.events, pg.events)
	fmt.Printf("%-28s %14.0f %14.0f\n", "bytes per event", float64(lite.bytes)/float64(max(lite.events, 1)), float64(pg.bytes)/float64(max(pg.events, 1)))
	fmt.Printf("ratio %s / %s (saturated): %.2f\n", pg.name, lite.name, pg.saturation.rate/lite.saturation.rate)
	fmt.Printf("durability: %s; %s\n", lite.durableSettings, pg.durableSettings)
	fmt.Printf("load average at the end: %s\n", loadAverage())
	return nil
}

// runSQLite loads one collector on a fresh SQLite file: paced first (a
// quiet, fresh database), then back to back.
func (b pgBench) runSQLite(dir string) (engineResult, error) {
	r := engineResult{name: "1 SQLite node", durableSettings: "SQLite WAL, synchronous=NORMAL"}
	col, err := startCollector(b.bin, dir)
	if err != nil {
		return r, err
	}
	defer col.stop()
	if err := b.measure(&r, []string{col.addr}); err != nil {
		return r, err
	}
	col.stop()
	// The stopped collector checkpointed its WAL; what is left is the
	// file (and a WAL, if any).
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, "visitrack.db"+suffix)); err == nil {
			r.bytes += fi.Size()
		}
	}
	db, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		return r, err
	}
	defer db.Close()
	err = db.QueryRow(`SELECT count(*) FROM events`).Scan(&r.events)
	return r, err
}

// runPostgres loads b.nodes collectors on the database at url, each
// visitor on one of them in turn.
func (b pgBench) runPostgres(ctx context.Context, url, dir string) (engineResult, error) {
	r := engineResult{name: fmt.Sprintf("%d PostgreSQL nodes", b.nodes)}
	if b.nodes == 1 {
		r.name = "1 PostgreSQL node"
	}
	db, err := sql.Open("pgx", url)
	if err != nil {
		return r, err
	}
	defer db.Close()
	var settings []string
	for _, name := range []string{"fsync", "synchronous_commit", "full_page_writes"} {
		var v string
		if err := db.QueryRowContext(ctx, `SELECT current_setting($1)`, name).Scan(&v); err != nil {
			return r, err
		}
		settings = append(settings, name+"="+v)
	}
	var version string
	if err := db.QueryRowContext(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return r, err
	}
	r.durableSettings = "PostgreSQL " + strings.Fields(version)[0] + " " + strings.Join(settings, " ")
	// One after the other: the first migrates the empty database.
	var addrs []string
	for i := range b.nodes {
		col, err := startCollector(b.bin, filepath.Join(dir, fmt.Sprint(i)), "--database", url)
		if err != nil {
			return r, err
		}
		defer col.stop()
		addrs = append(addrs, col.addr)
	}
	if err := b.measure(&r, addrs); err != nil {
		return r, err
	}
	// Every relation with storage (tables, partitions, their indexes and
	// TOAST), over every event stored.
	err = db.QueryRowContext(ctx, `SELECT
		(SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')),
		(SELECT count(*) FROM events)`).Scan(&r.bytes, &r.events)
	return r, err
}

// measure runs the paced load, then the saturating one, on addrs.
func (b pgBench) measure(r *engineResult, addrs []string) error {
	interval := time.Duration(float64(b.visitors*b.paced.perFrame) / float64(b.paced.rate) * float64(time.Second))
	var err error
	if r.paced, err = load(addrs, b.visitors, b.paced.perFrame, interval, b.duration, b.warmup); err != nil {
		return fmt.Errorf("paced load: %w", err)
	}
	fmt.Printf("%s, paced at %d events/s: %.0f durable events/s, ack p50 %s p99 %s\n", r.name, b.paced.rate,
		r.paced.rate, r.paced.p50.Round(100*time.Microsecond), r.paced.p99.Round(100*time.Microsecond))
	if r.saturation, err = load(addrs, b.visitors, b.perFrame, 0, b.duration, b.warmup); err != nil {
		return fmt.Errorf("saturating load: %w", err)
	}
	fmt.Printf("%s, back to back: %.0f durable events/s (%d visitors, %d events/frame)\n", r.name,
		r.saturation.rate, b.visitors, b.perFrame)
	return nil
}

// loadAverage is /proc/loadavg's first three figures: the machine is
// shared, and the figures mean little without it.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}
