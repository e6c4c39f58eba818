package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// DryRunEvent is a stored event as a dry run of an engagement rule
// replays it: with its id, to name it in the answer, and the categories
// its page was given when it was stored.
type DryRunEvent struct {
	EventID, PageID, Name string
	// URL is read for PageEntered only, Data for the names asked for:
	// a dry run needs no more, and a visit's events may be many.
	URL, Data string
	At        int64 // corrected, ms
	// Categories are the engagement categories of the event's page as
	// stored (nil for none, or for an event without a page).
	Categories []string
}

// DryRunEvents returns the first limit events of visitID in the order the
// History API lists them (corrected time, then event id), each with its
// page's stored categories, and the data of the events named in dataOf
// ("" for the others): what a dry run of an engagement rule replays
// (docs/engagement.md). The caller asks for one more than it accepts to
// tell a visit over its bound. One read of the events_visit index, pages
// by their key.
func (s *Store) DryRunEvents(ctx context.Context, visitID string, limit int, dataOf []string) ([]DryRunEvent, error) {
	data, args := `''`, []any{}
	if len(dataOf) > 0 {
		data = `CASE WHEN e.name IN (?` + strings.Repeat(`, ?`, len(dataOf)-1) + `) THEN e.data ELSE '' END`
		for _, n := range dataOf {
			args = append(args, n)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT e.event_id, e.page_id, e.name,
		CASE WHEN e.name = 'PageEntered' THEN e.url ELSE '' END, `+data+`, e.corrected_at, p.categories
		FROM events e LEFT JOIN pages p ON p.page_id = e.page_id AND p.visit_id = e.visit_id
		WHERE e.visit_key = `+visitKeyOf+` ORDER BY e.corrected_at, e.event_id LIMIT ?`, append(args, visitID, limit)...)
	if err != nil {
		return nil, fmt.Errorf("events of visit %s: %w", visitID, err)
	}
	evs, err := scanAll(rows, func(sc scanner) (DryRunEvent, error) {
		var e DryRunEvent
		var cats sql.NullString
		if err := sc.Scan(&e.EventID, &e.PageID, &e.Name, &e.URL, &e.Data, &e.At, &cats); err != nil {
			return e, err
		}
		if cats.String != "" {
			if err := json.Unmarshal([]byte(cats.String), &e.Categories); err != nil {
				return e, fmt.Errorf("categories of page %s: %w", e.PageID, err)
			}
		}
		return e, nil
	})
	if err != nil {
		return nil, fmt.Errorf("events of visit %s: %w", visitID, err)
	}
	return evs, nil
}
