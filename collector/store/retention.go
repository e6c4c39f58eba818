package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// MaxPurgeBatch bounds the visits of one PurgeVisits call: their ids are
// bound parameters, and D1 allows 100 per statement.
const MaxPurgeBatch = 90

// PurgeVisits deletes up to limit visits that ended before cutoff, oldest
// first, with their events, pages, sessions, identity links and metadata,
// and the webhook deliveries that name those events, and returns the ids
// it deleted. An identity's first or last touch copied from one of them
// is recomputed from the visits that stay. Identities, visitors and
// visitor data stay (they go only by erasure).
//
// Every step is one statement, children before the visit: on D1, which
// runs them one by one, an interrupted call leaves the visit row, and the
// next call finishes it. The native collector runs it in the ingest
// writer's transaction.
func (s *Store) PurgeVisits(ctx context.Context, q Querier, cutoff time.Time, limit int) ([]string, error) {
	limit = min(max(limit, 1), MaxPurgeBatch)
	rows, err := q.QueryContext(ctx, `SELECT visit_id FROM visits
		WHERE ended_at IS NOT NULL AND ended_at < ? ORDER BY ended_at LIMIT ?`, ms(cutoff), limit)
	if err != nil {
		return nil, fmt.Errorf("purge visits: %w", err)
	}
	var ids []any
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("purge visits: %w", err)
		}
		ids, out = append(ids, id), append(out, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("purge visits: %w", err)
	}
	if len(ids) == 0 {
		return nil, nil
	}
	in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
	// The touches identities copied from these visits, while the visits
	// still say what they were (erase_touches.go).
	if _, err := q.ExecContext(ctx, recomputeTouches(s.dialect.TouchJSON, `SELECT visit_id FROM visits WHERE visit_id IN `+in), ids...); err != nil {
		return nil, fmt.Errorf("purge visits: touches: %w", err)
	}
	// The deliveries first: once the events are gone nothing names them.
	if _, err := q.ExecContext(ctx, deleteEventDeliveries(in), ids...); err != nil {
		return nil, fmt.Errorf("purge visits: webhook deliveries: %w", err)
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM events WHERE visit_key IN `+visitKeysIn(in), ids...); err != nil {
		return nil, fmt.Errorf("purge visits: events: %w", err)
	}
	for _, table := range []string{"pages", "sessions", "visit_metadata", "engagement_offers", "visit_identities", "visits"} {
		if _, err := q.ExecContext(ctx, `DELETE FROM `+table+` WHERE visit_id IN `+in, ids...); err != nil {
			return nil, fmt.Errorf("purge visits: %s: %w", table, err)
		}
	}
	return out, nil
}
