package fromsqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// copier copies the plan's tables from the source's snapshot into the
// target, batch by batch.
type copier struct {
	cfg    Config
	src    *sql.Conn
	dst    *pgx.Conn
	plan   *plan
	source string
}

// progress is a table's row in progressTable.
type progress struct {
	rows    int64
	lastKey []any // nil: nothing copied yet
	done    bool
}

func (c *copier) copyAll(ctx context.Context) error {
	prog, err := c.readProgress(ctx)
	if err != nil {
		return err
	}
	st := Status{Phase: PhaseCopy, Started: c.cfg.Now()}
	for _, t := range c.plan.tables {
		st.Total += t.total
		st.Rows += prog[t.name].rows
	}
	st.StartRows = st.Rows
	for _, t := range c.plan.tables {
		p := prog[t.name]
		st.Table, st.TableRows, st.TableTotal, st.TableDone = t.name, p.rows, t.total, p.done
		if p.done {
			continue
		}
		c.cfg.Report(st)
		if err := c.copyTable(ctx, t, p, &st); err != nil {
			return err
		}
		st.TableDone = true
		c.cfg.Report(st)
	}
	return nil
}

func (c *copier) readProgress(ctx context.Context) (map[string]progress, error) {
	rows, err := c.dst.Query(ctx, `SELECT table_name, rows, last_key, done FROM `+progressTable)
	if err != nil {
		return nil, fmt.Errorf("--to: read the copy's progress: %w", err)
	}
	defer rows.Close()
	out := map[string]progress{}
	for rows.Next() {
		var name string
		var key *string
		var p progress
		if err := rows.Scan(&name, &p.rows, &key, &p.done); err != nil {
			return nil, fmt.Errorf("--to: read the copy's progress: %w", err)
		}
		if key != nil {
			if p.lastKey, err = decodeKey(*key); err != nil {
				return nil, fmt.Errorf("--to: the copy's progress of %s: %w", name, err)
			}
		}
		out[name] = p
	}
	return out, rows.Err()
}

// batch is a run of rows in key order and the key of its last row.
type batch struct {
	rows [][]any
	last []any
}

// copyTable streams t from the source, after p's last key, into the
// target. A goroutine reads the next batch while the current one is sent.
func (c *copier) copyTable(ctx context.Context, t *table, p progress, st *Status) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	batches := make(chan batch, 1)
	readErr := make(chan error, 1)
	go func() {
		defer close(batches)
		readErr <- c.read(ctx, t, p.lastKey, batches)
	}()
	for b := range batches {
		if err := c.write(ctx, t, b); err != nil {
			cancel()
			for range batches {
			}
			<-readErr
			return err
		}
		n := int64(len(b.rows))
		st.Rows += n
		st.TableRows += n
		c.cfg.Report(*st)
	}
	if err := <-readErr; err != nil {
		return err
	}
	if _, err := c.dst.Exec(ctx, `UPDATE `+progressTable+` SET done = true WHERE table_name = $1`, t.name); err != nil {
		return fmt.Errorf("copy %s: record its end: %w", t.name, err)
	}
	return nil
}

// read sends t's rows after key (nil: from the first) in batches.
func (c *copier) read(ctx context.Context, t *table, after []any, out chan<- batch) error {
	q := `SELECT ` + quoteAll(t.cols) + ` FROM ` + quote(t.name)
	if after != nil {
		q += ` WHERE (` + quoteAll(t.key) + `) > (` + strings.TrimSuffix(strings.Repeat("?, ", len(t.key)), ", ") + `)`
	}
	q += ` ORDER BY ` + quoteAll(t.key)
	rows, err := c.src.QueryContext(ctx, q, after...)
	if err != nil {
		return fmt.Errorf("copy %s: read the source: %w", t.name, err)
	}
	defer rows.Close()
	keyAt := make([]int, len(t.key))
	for i, k := range t.key {
		keyAt[i] = slices.Index(t.cols, k)
	}
	b := batch{rows: make([][]any, 0, c.cfg.Batch)}
	ptrs := make([]any, len(t.cols))
	for rows.Next() {
		row := make([]any, len(t.cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("copy %s: read the source: %w", t.name, err)
		}
		b.rows = append(b.rows, row)
		if len(b.rows) == c.cfg.Batch {
			b.last = keyOf(row, keyAt)
			select {
			case out <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
			b = batch{rows: make([][]any, 0, c.cfg.Batch)}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("copy %s: read the source: %w", t.name, err)
	}
	if len(b.rows) > 0 {
		b.last = keyOf(b.rows[len(b.rows)-1], keyAt)
		select {
		case out <- b:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// write copies one batch and records its last key, in one transaction.
func (c *copier) write(ctx context.Context, t *table, b batch) error {
	key, err := json.Marshal(b.last)
	if err != nil {
		return fmt.Errorf("copy %s: %w", t.name, err)
	}
	tx, err := c.dst.Begin(ctx)
	if err != nil {
		return fmt.Errorf("copy %s: %w", t.name, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{t.name}, t.cols, pgx.CopyFromRows(b.rows)); err != nil {
		return fmt.Errorf("copy %s: the batch of %d rows from key %s: %w", t.name, len(b.rows), firstKey(t, b), err)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+progressTable+` SET rows = rows + $1, last_key = $2 WHERE table_name = $3`,
		len(b.rows), string(key), t.name); err != nil {
		return fmt.Errorf("copy %s: record its progress: %w", t.name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("copy %s: commit: %w", t.name, err)
	}
	return nil
}

// firstKey shows the key of a batch's first row, for an error.
func firstKey(t *table, b batch) string {
	keyAt := make([]int, len(t.key))
	for i, k := range t.key {
		keyAt[i] = slices.Index(t.cols, k)
	}
	j, _ := json.Marshal(keyOf(b.rows[0], keyAt))
	return string(j)
}

func keyOf(row []any, at []int) []any {
	k := make([]any, len(at))
	for i, j := range at {
		k[i] = row[j]
		if b, ok := k[i].([]byte); ok {
			k[i] = string(b)
		}
	}
	return k
}

// decodeKey reads a key that keyOf made and json.Marshal wrote: strings
// and integers (numbers are read as int64, never rounded through float64).
func decodeKey(s string) ([]any, error) {
	d := json.NewDecoder(bytes.NewReader([]byte(s)))
	d.UseNumber()
	var raw []any
	if err := d.Decode(&raw); err != nil {
		return nil, fmt.Errorf("key %q: %w", s, err)
	}
	for i, v := range raw {
		switch v := v.(type) {
		case json.Number:
			n, err := v.Int64()
			if err != nil {
				return nil, fmt.Errorf("key %q: %w", s, err)
			}
			raw[i] = n
		case string:
		default:
			return nil, fmt.Errorf("key %q: %w", s, errors.New("a key column is neither text nor an integer"))
		}
	}
	return raw, nil
}
