package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
)

// The erasure audit (docs/data-subject.md). Every erasure runs under a
// record in erasures, written before the first row is deleted, as
// pending, with what the sequence will remove counted then, and marked
// done by the sequence's last statement. On D1 an erasure that stopped
// halfway leaves its record pending: erasing the same subject again finds
// it and finishes the sequence under it, even when the subject itself is
// gone already, so that a rerun neither writes a second record nor loses
// the first (a subject has at most one pending record: migration 0014).
// The counts stay those taken before anything was deleted, which is what
// the erasure removed in all.

var _ collector.ErasureService = (*Store)(nil)

// erasureColumns reads an erasures row.
const erasureColumns = `erasure_id, kind, subject_id, merged_identity_ids, visitor_ids, token_id, state, removed, started_at, finished_at`

// erasure is one erasure to run: its subject, whether it exists, the
// ids it takes along, its statements, and the counts of those whose own
// condition does not select, before the sequence runs, what they delete
// when their turn comes (keyed by table).
type erasure struct {
	kind, id string
	exists   step // SELECT EXISTS (…)
	ids      func(ctx context.Context, q Querier) (merged, visitors []string, err error)
	steps    []step
	counts   map[string]step // SELECT count(*) FROM …
}

// erase runs e under its record; see the top of this file.
func (s *Store) erase(ctx context.Context, e erasure, opt collector.EraseOptions) error {
	return s.inTx(ctx, func(q Querier) error {
		rec, err := pendingErasure(ctx, q, e.kind, e.id)
		if err != nil {
			return err
		}
		if rec == nil {
			if rec, err = s.startErasure(ctx, q, e, opt); err != nil {
				return err
			}
		}
		steps := append(e.steps[:len(e.steps):len(e.steps)], step{`UPDATE erasures SET state = 'done', finished_at = ? WHERE erasure_id = ?`,
			[]any{ms(s.now()), rec.ErasureID}})
		return run(ctx, q, steps)
	})
}

// startErasure counts what e removes and writes its pending record, or
// returns ENOTFOUND when its subject is unknown. A record that a
// concurrent erasure of the same subject wrote first (D1) is taken over.
func (s *Store) startErasure(ctx context.Context, q Querier, e erasure, opt collector.EraseOptions) (*collector.Erasure, error) {
	var ok bool
	if err := q.QueryRowContext(ctx, e.exists.sql, e.exists.args...).Scan(&ok); err != nil {
		return nil, err
	}
	if !ok {
		return nil, collector.Errorf(collector.ENOTFOUND, "%s %s not found", e.kind, e.id)
	}
	rec := &collector.Erasure{Kind: e.kind, SubjectID: e.id, TokenID: opt.TokenID, State: collector.ErasurePending,
		StartedAt: fromMS(ms(s.now()))}
	var err error
	if rec.MergedIdentityIDs, rec.VisitorIDs, err = e.ids(ctx, q); err != nil {
		return nil, err
	}
	rec.MergedIdentityIDs, rec.VisitorIDs = append([]string{}, rec.MergedIdentityIDs...), append([]string{}, rec.VisitorIDs...)
	if rec.Removed, err = countRemoved(ctx, q, e.steps, e.counts); err != nil {
		return nil, err
	}
	rec.ErasureID = ulid.MustNew(ulid.Timestamp(rec.StartedAt), rand.Reader).String()
	merged, _ := json.Marshal(rec.MergedIdentityIDs)
	visitors, _ := json.Marshal(rec.VisitorIDs)
	removed, _ := json.Marshal(rec.Removed)
	var id string
	err = q.QueryRowContext(ctx, `INSERT INTO erasures (erasure_id, kind, subject_id, merged_identity_ids, visitor_ids,
		token_id, state, removed, started_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?)
		ON CONFLICT (kind, subject_id) WHERE state = 'pending' DO NOTHING RETURNING erasure_id`,
		rec.ErasureID, rec.Kind, rec.SubjectID, string(merged), string(visitors), rec.TokenID, string(removed),
		ms(rec.StartedAt)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		if rec, err = pendingErasure(ctx, q, e.kind, e.id); err == nil && rec == nil {
			err = collector.Errorf(collector.ECONFLICT, "another erasure of %s %s ran at the same time; erase it again", e.kind, e.id)
		}
		return rec, err
	}
	if err != nil {
		return nil, err
	}
	return rec, nil
}

// countRemoved counts, by table, the rows that steps will delete: a
// DELETE's own condition selects them before the sequence runs, unless
// counts has the table's count (a condition that waits for earlier
// statements of the sequence).
func countRemoved(ctx context.Context, q Querier, steps []step, counts map[string]step) (map[string]int, error) {
	removed := map[string]int{}
	for _, st := range steps {
		rest, ok := strings.CutPrefix(strings.TrimSpace(st.sql), "DELETE FROM ")
		if !ok {
			continue // not a removal (the touches' UPDATE)
		}
		table, _, _ := strings.Cut(rest, " ")
		if _, ok := counts[table]; ok {
			continue
		}
		n, err := count(ctx, q, step{`SELECT count(*) FROM ` + rest, st.args})
		if err != nil {
			return nil, fmt.Errorf("count the rows of %s to erase: %w", table, err)
		}
		removed[table] += n
	}
	for table, st := range counts {
		n, err := count(ctx, q, st)
		if err != nil {
			return nil, fmt.Errorf("count the rows of %s to erase: %w", table, err)
		}
		removed[table] += n
	}
	return removed, nil
}

func count(ctx context.Context, q Querier, st step) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, st.sql, st.args...).Scan(&n)
	return n, err
}

// pendingErasure returns the pending record of the subject's erasure, or
// nil.
func pendingErasure(ctx context.Context, q Querier, kind, id string) (*collector.Erasure, error) {
	rec, err := scanErasure(q.QueryRowContext(ctx, `SELECT `+erasureColumns+` FROM erasures
		WHERE kind = ? AND subject_id = ? AND state = 'pending'`, kind, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return rec, err
}

// listErasures names the cursor of the erasures list.
const listErasures = "erasures"

// FindErasures returns the erasure records, newest first.
func (s *Store) FindErasures(ctx context.Context, opt collector.ListOptions) ([]*collector.Erasure, string, error) {
	recs, next, err := s.findErasures(ctx, opt)
	if err != nil {
		return nil, "", fmt.Errorf("find erasures: %w", err)
	}
	return recs, next, nil
}

func (s *Store) findErasures(ctx context.Context, opt collector.ListOptions) ([]*collector.Erasure, string, error) {
	limit, err := pageLimit(opt)
	if err != nil {
		return nil, "", err
	}
	c, err := decodeCursor(listErasures, opt.Cursor)
	if err != nil {
		return nil, "", err
	}
	var w where
	if c != nil {
		w.and(`(started_at < ? OR (started_at = ? AND erasure_id < ?))`, c.T, c.T, c.ID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+erasureColumns+` FROM erasures`+w.String()+
		` ORDER BY started_at DESC, erasure_id DESC LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	recs, err := scanAll(rows, scanErasure)
	if err != nil {
		return nil, "", err
	}
	recs, next := page(recs, limit, listErasures, func(r *collector.Erasure) (int64, string) {
		return ms(r.StartedAt), r.ErasureID
	})
	return recs, next, nil
}

func scanErasure(sc scanner) (*collector.Erasure, error) {
	var (
		r                         collector.Erasure
		merged, visitors, removed string
		started                   int64
		finished                  sql.NullInt64
	)
	if err := sc.Scan(&r.ErasureID, &r.Kind, &r.SubjectID, &merged, &visitors, &r.TokenID, &r.State, &removed,
		&started, &finished); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		raw string
		to  any
	}{{merged, &r.MergedIdentityIDs}, {visitors, &r.VisitorIDs}, {removed, &r.Removed}} {
		if err := json.Unmarshal([]byte(f.raw), f.to); err != nil {
			return nil, fmt.Errorf("erasure %s: stored record: %w", r.ErasureID, err)
		}
	}
	r.StartedAt, r.FinishedAt = fromMS(started), fromNullMS(finished)
	return &r, nil
}
