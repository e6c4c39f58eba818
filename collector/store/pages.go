package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// The pages table on the write path: one row per pageId, entered and exited.

// PageRow records a page entered or exited. An exit may be stored before
// its entry (the beacon and the WebSocket race), so both are upserts.
type PageRow struct {
	PageID     string
	VisitID    string
	URL        string
	Title      string
	Referrer   string
	EnteredAt  int64
	ExitedAt   int64 // 0 for an entry
	DurationMS int64
	// Categories are the engagement categories the page matched, as a
	// JSON array of names; "" for none.
	Categories string
}

// UpsertPage records a page entry or exit. A page belongs to the visit
// that first used its pageId (docs/protocol.md#what-the-collector-accepts): when another visit owns
// it, nothing changes and UpsertPage reports false. The check is the
// upsert's own WHERE, so that one statement decides on D1 too.
func (s *Store) UpsertPage(ctx context.Context, q Querier, p *PageRow) (bool, error) {
	var row *sql.Row
	if p.ExitedAt == 0 {
		row = q.QueryRowContext(ctx, `INSERT INTO pages (page_id, visit_id, url, title, referrer, entered_at, categories)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (page_id) DO UPDATE SET url = excluded.url, title = excluded.title,
				referrer = excluded.referrer, entered_at = excluded.entered_at, categories = excluded.categories
			WHERE pages.visit_id = excluded.visit_id
			RETURNING page_id`,
			p.PageID, p.VisitID, p.URL, p.Title, p.Referrer, p.EnteredAt, nullIfEmpty(p.Categories))
	} else {
		row = q.QueryRowContext(ctx, `INSERT INTO pages (page_id, visit_id, url, title, referrer, entered_at, exited_at, duration_ms, categories)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (page_id) DO UPDATE SET exited_at = excluded.exited_at, duration_ms = excluded.duration_ms
			WHERE pages.visit_id = excluded.visit_id
			RETURNING page_id`,
			p.PageID, p.VisitID, p.URL, p.Title, p.Referrer, p.EnteredAt, p.ExitedAt, p.DurationMS, nullIfEmpty(p.Categories))
	}
	var id string
	err := row.Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("record page %s: %w", p.PageID, err)
	}
	return true, nil
}
