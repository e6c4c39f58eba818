package store

import (
	"context"
	"fmt"

	"github.com/visitrack/visitrack/collector"
)

// Bulk export (docs/integrations.md#export): keyset pagination inside the store, so
// that an export of any size holds one page in memory and no read
// transaction stays open while the caller writes to a slow client.

var _ collector.ExportService = (*Store)(nil)

// exportPage is the rows one export query reads. Large enough that the
// per-query cost vanishes, small enough that a page is a few MB at most.
const exportPage = 2000

// ExportEvents calls fn for every event whose corrected time is in f, in
// rowid order (the order they were stored): the rowid is the table's own
// B-tree key, so each page is one range scan and no index is needed.
func (s *Store) ExportEvents(ctx context.Context, f collector.ExportFilter, fn func(*collector.Event) error) error {
	if err := checkRange(f.Since, f.Until); err != nil {
		return err
	}
	var w where
	w.and(`e.rowid > ?`, int64(0))
	if !f.Since.IsZero() {
		w.and(`e.corrected_at >= ?`, msCeil(f.Since))
	}
	if !f.Until.IsZero() {
		w.and(`e.corrected_at < ?`, msCeil(f.Until))
	}
	q := `SELECT e.rowid, e.event_id, e.visit_id, e.visitor_id, e.session_id, e.identity_id, e.page_id,
		e.name, e.category, e.timestamp, e.corrected_at, e.received_at, e.url, e.title,
		e.referrer, e.data FROM events e` + w.String() + ` ORDER BY e.rowid LIMIT ?`
	buf := make([]*collector.Event, 0, exportPage)
	var after int64
	for {
		w.args[0] = after
		rows, err := s.db.QueryContext(ctx, q, append(w.args, exportPage)...)
		if err != nil {
			return fmt.Errorf("export events: %w", err)
		}
		buf = buf[:0]
		for rows.Next() {
			e, err := scanEvent(rowIDScanner{rows, &after})
			if err != nil {
				rows.Close()
				return fmt.Errorf("export events: %w", err)
			}
			buf = append(buf, e)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("export events: %w", err)
		}
		for _, e := range buf {
			if err := fn(e); err != nil {
				return err
			}
		}
		if len(buf) < exportPage {
			return nil
		}
	}
}

// ExportVisits calls fn for every visit that started in f, oldest first
// (by startedAt, ties by visitId), with the same fields as FindVisit. The
// keyset walks the visits_started index.
func (s *Store) ExportVisits(ctx context.Context, f collector.ExportFilter, fn func(*collector.Visit) error) error {
	if err := checkRange(f.Since, f.Until); err != nil {
		return err
	}
	var after *collector.Visit
	for {
		var w where
		if !f.Since.IsZero() {
			w.and(`v.started_at >= ?`, msCeil(f.Since))
		}
		if !f.Until.IsZero() {
			w.and(`v.started_at < ?`, msCeil(f.Until))
		}
		if after != nil {
			w.and(`(v.started_at, v.visit_id) > (?, ?)`, ms(after.StartedAt), after.VisitID)
		}
		rows, err := s.db.QueryContext(ctx, `SELECT `+visitColumns+` FROM visits v`+w.String()+
			` ORDER BY v.started_at, v.visit_id LIMIT ?`, append(w.args, exportPage)...)
		if err != nil {
			return fmt.Errorf("export visits: %w", err)
		}
		visits, err := scanAll(rows, scanVisit)
		if err != nil {
			return fmt.Errorf("export visits: %w", err)
		}
		for _, v := range visits {
			if err := fn(v); err != nil {
				return err
			}
		}
		if len(visits) < exportPage {
			return nil
		}
		after = visits[len(visits)-1]
	}
}

// rowIDScanner reads a leading rowid column into id and hands the rest of
// the row to the scanner of the resource.
type rowIDScanner struct {
	sc scanner
	id *int64
}

func (r rowIDScanner) Scan(dest ...any) error {
	return r.sc.Scan(append([]any{r.id}, dest...)...)
}
