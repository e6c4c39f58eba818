package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"slices"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store"
)

// The events table is partitioned by month of event_id (migration
// 0019_events_partitioned.sql): a ULID starts with its creation time, so
// the ids of one UTC month are one range of text. Partition events_YYYY_MM
// holds the ids from the first millisecond of that month up to, not
// including, the next month's; events_default holds the ids of no month
// made (a browser whose clock is years off).

// crockford is the ULID alphabet, in its sort order.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// ulidFloor returns the smallest ULID of t's millisecond: the time in ten
// base-32 digits, then zeros. Every ULID made at t or later sorts at or
// after it.
func ulidFloor(t time.Time) string {
	ms := t.UnixMilli()
	var b [26]byte
	for i := range b {
		b[i] = '0'
	}
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms%32]
		ms /= 32
	}
	return string(b[:])
}

// monthOf returns the first instant of t's UTC month.
func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// partitionName is the name of month m's partition.
func partitionName(m time.Time) string {
	return fmt.Sprintf("events_%04d_%02d", m.Year(), int(m.Month()))
}

// monthPartition is the shape of a month's partition name.
var monthPartition = regexp.MustCompile(`^events_([0-9]{4})_([0-9]{2})$`)

// Partition is one month's partition of events.
type Partition struct {
	Name string
	// Month is the first instant of its UTC month.
	Month time.Time
}

// Partitions returns the month partitions of events, oldest first
// (events_default is not one).
func Partitions(ctx context.Context, q store.Querier) ([]Partition, error) {
	rows, err := q.QueryContext(ctx, `SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'events'::regclass`)
	if err != nil {
		return nil, fmt.Errorf("list the partitions of events: %w", err)
	}
	defer rows.Close()
	var out []Partition
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("list the partitions of events: %w", err)
		}
		if m := monthPartition.FindStringSubmatch(name); m != nil {
			month, err := time.Parse("2006-01", m[1]+"-"+m[2])
			if err != nil {
				return nil, fmt.Errorf("partition %s: %w", name, err)
			}
			out = append(out, Partition{Name: name, Month: month})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list the partitions of events: %w", err)
	}
	slices.SortFunc(out, func(a, b Partition) int { return a.Month.Compare(b.Month) })
	return out, nil
}

// EnsurePartitions makes the partitions of the months from from's through
// to's that have none, and returns how many it made. Rows of such a month
// already in events_default (ids from a clock far ahead, or a history
// copied from SQLite) move into the new partition: PostgreSQL refuses a
// partition whose rows the default holds.
func EnsurePartitions(ctx context.Context, q store.Querier, from, to time.Time) (int, error) {
	have, err := Partitions(ctx, q)
	if err != nil {
		return 0, err
	}
	made := 0
	for m := monthOf(from); !m.After(monthOf(to)); m = m.AddDate(0, 1, 0) {
		if slices.ContainsFunc(have, func(p Partition) bool { return p.Month.Equal(m) }) {
			continue
		}
		if err := makePartition(ctx, q, m); err != nil {
			return made, err
		}
		made++
	}
	return made, nil
}

// makePartition makes month m's partition. When events_default holds rows
// of m, it is detached while they move: a detached partition loses the
// rollups' delete trigger, so moving a row does not uncount it.
func makePartition(ctx context.Context, q store.Querier, m time.Time) error {
	name, lo, hi := partitionName(m), ulidFloor(m), ulidFloor(m.AddDate(0, 1, 0))
	var strays bool
	if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM events_default WHERE event_id >= ? AND event_id < ?)`,
		lo, hi).Scan(&strays); err != nil {
		return fmt.Errorf("partition %s: look for its rows in events_default: %w", name, err)
	}
	create := fmt.Sprintf(`CREATE TABLE %s PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`, name, lo, hi)
	steps := []string{create}
	if strays {
		cond := fmt.Sprintf(`event_id >= '%s' AND event_id < '%s'`, lo, hi)
		steps = []string{
			`ALTER TABLE events DETACH PARTITION events_default`,
			create,
			`INSERT INTO events OVERRIDING SYSTEM VALUE SELECT * FROM events_default WHERE ` + cond,
			`DELETE FROM events_default WHERE ` + cond,
			`ALTER TABLE events ATTACH PARTITION events_default DEFAULT`,
		}
	}
	for _, s := range steps {
		if _, err := q.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("partition %s: %w", name, err)
		}
	}
	return nil
}

// DropPartitions drops the month partitions that end at or before
// before and hold no event of a visit still stored, and returns their
// names. Retention deletes a visit's events with it (and uncounts them
// from the rollups, and deletes the webhook deliveries that name them), so
// a partition wholly older than the retention is empty once retention
// has caught up with it; one that still holds an event of a stored visit
// (a visit long open at the boundary, a browser whose clock was months
// behind) stays until retention takes that visit. Dropping the emptied
// partition gives its disk back at once, which deleted rows in one large
// table never do.
func DropPartitions(ctx context.Context, q store.Querier, before time.Time) ([]string, error) {
	parts, err := Partitions(ctx, q)
	if err != nil {
		return nil, err
	}
	var dropped []string
	for _, p := range parts {
		if p.Month.AddDate(0, 1, 0).After(before) {
			break
		}
		var held bool
		if err := q.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM `+p.Name+` e
			WHERE EXISTS (SELECT 1 FROM visits v WHERE v.visit_id = e.visit_id))`).Scan(&held); err != nil {
			return dropped, fmt.Errorf("partition %s: look for stored visits: %w", p.Name, err)
		}
		if held {
			continue
		}
		for _, s := range []string{`ALTER TABLE events DETACH PARTITION ` + p.Name, `DROP TABLE ` + p.Name} {
			if _, err := q.ExecContext(ctx, s); err != nil {
				return dropped, fmt.Errorf("partition %s: %w", p.Name, err)
			}
		}
		dropped = append(dropped, p.Name)
	}
	return dropped, nil
}

// PartitionsConfig configures the partitions job.
type PartitionsConfig struct {
	// Retention is --retention: partitions wholly older than it (and
	// Margin) are dropped once emptied. 0 drops none.
	Retention time.Duration
	// Margin is added to Retention before a partition counts as old
	// (default DefaultPartitionMargin).
	Margin time.Duration
	// Ahead is how many months after the current one have their
	// partition made in advance (default 3).
	Ahead int
	// Idle is the wait between rounds (default an hour): the work comes
	// once a month.
	Idle time.Duration
	// LockTimeout bounds the wait for the table locks that making or
	// dropping a partition takes (default 5 s): a long read on events
	// (an export) must not stall every node's ingest queued behind the
	// round. The round fails and is tried again at the next.
	LockTimeout time.Duration
	Now         func() time.Time
}

// DefaultPartitionMargin is how much older than the retention a month
// must be before its partition is looked at: the visits still open at
// its end have ended and been deleted by then.
const DefaultPartitionMargin = 7 * 24 * time.Hour

// PartitionsJob is the PostgreSQL job that keeps the months' partitions
// of events: it makes those of the current month and the Ahead next
// ones, so that ingest never writes into events_default, and, with a
// retention, drops the emptied ones wholly older than it (DropPartitions).
// Each round returns how many partitions it made or dropped.
func PartitionsJob(cfg PartitionsConfig) (maintain.Job, error) {
	if cfg.Retention < 0 || cfg.Margin < 0 || cfg.Ahead < 0 {
		return maintain.Job{}, errors.New("partitions: Retention, Margin and Ahead must not be negative")
	}
	if cfg.Margin == 0 {
		cfg.Margin = DefaultPartitionMargin
	}
	if cfg.Ahead == 0 {
		cfg.Ahead = 3
	}
	if cfg.Idle <= 0 {
		cfg.Idle = time.Hour
	}
	if cfg.LockTimeout <= 0 {
		cfg.LockTimeout = 5 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return maintain.Job{
		Name: "partitions",
		Lock: collector.JobPartitions,
		Round: func(ctx context.Context, tx ingest.Tx) (int, error) {
			q := tx.Querier()
			restore, err := localLockTimeout(ctx, q, cfg.LockTimeout)
			if err != nil {
				return 0, err
			}
			now := cfg.Now()
			n, err := EnsurePartitions(ctx, q, now, monthOf(now).AddDate(0, cfg.Ahead, 0))
			if err != nil {
				return n, err
			}
			if cfg.Retention > 0 {
				dropped, err := DropPartitions(ctx, q, now.Add(-cfg.Retention-cfg.Margin))
				n += len(dropped)
				if err != nil {
					return n, err
				}
			}
			return n, restore()
		},
		// Every round does all there is: each waits Idle.
		Pace: maintain.Pace{Batch: math.MaxInt, Idle: cfg.Idle},
		CaughtUp: func(log *slog.Logger, total int) {
			log.Info("partitions: made or dropped month partitions of events", "partitions", total)
		},
	}, nil
}

// localLockTimeout sets lock_timeout for the rest of the transaction q
// and returns the function that puts the previous value back: the round
// shares the ingest writer's transaction, whose inserts keep the usual
// waits.
func localLockTimeout(ctx context.Context, q store.Querier, d time.Duration) (func() error, error) {
	var was string
	if err := q.QueryRowContext(ctx, `SELECT current_setting('lock_timeout')`).Scan(&was); err != nil {
		return nil, fmt.Errorf("partitions: read lock_timeout: %w", err)
	}
	if _, err := q.ExecContext(ctx, `SELECT set_config('lock_timeout', ?, true)`, fmt.Sprintf("%dms", d.Milliseconds())); err != nil {
		return nil, fmt.Errorf("partitions: set lock_timeout: %w", err)
	}
	return func() error {
		if _, err := q.ExecContext(ctx, `SELECT set_config('lock_timeout', ?, true)`, was); err != nil {
			return fmt.Errorf("partitions: restore lock_timeout: %w", err)
		}
		return nil
	}, nil
}
