package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/visitrack/visitrack/shared/protocol"
)

// CountNewEvents adds to the stats rollups, and to their visits' event
// counts, the rows that InsertEvents is about to store: those whose
// eventId is not stored yet (a row named twice counts once), with their
// visit's bot flag. Run just before InsertEvents
// in the same transaction (on the edge, the same D1 batch), it counts each
// stored event exactly once without reading the events high water first:
// on the edge that read was a round trip of its own before the batch
// (EventsHighWater and CountEvents remain for the other paths). Page views
// are counted only when a row is a PageEntered event.
func (s *Store) CountNewEvents(ctx context.Context, q Querier, rows []EventRow) error {
	if len(rows) > 1 {
		rows = distinctEvents(rows)
	}
	per := max(1, s.maxParams()/newEventParams)
	var args []any
	for chunk := rows; len(chunk) > 0; chunk = chunk[min(len(chunk), per):] {
		part := chunk[:min(len(chunk), per)]
		args, pages := args[:0], false
		for i := range part {
			r := &part[i]
			args = append(args, r.EventID, r.VisitID, r.CorrectedAt, r.Name, r.URL)
			pages = pages || r.Name == protocol.EventPageEntered
		}
		if _, err := s.execHot(ctx, q, s.countNewSQL(countEvents, len(part)), args...); err != nil {
			return fmt.Errorf("count new events: %w", err)
		}
		if _, err := s.execHot(ctx, q, s.countNewSQL(countVisits, len(part)), args...); err != nil {
			return fmt.Errorf("count new events of visits: %w", err)
		}
		if !pages {
			continue
		}
		if _, err := s.execHot(ctx, q, s.countNewSQL(countPages, len(part)), args...); err != nil {
			return fmt.Errorf("count new page views: %w", err)
		}
	}
	return nil
}

// distinctEvents returns rows without the repeats of an eventId (the
// first one stays), copying only when there is one: the statements of one
// call all run before the insert, so none of them can tell a repeat in
// another statement's rows.
func distinctEvents(rows []EventRow) []EventRow {
	seen := make(map[string]struct{}, len(rows))
	for i := range rows {
		if _, ok := seen[rows[i].EventID]; !ok {
			seen[rows[i].EventID] = struct{}{}
			continue
		}
		out := append(make([]EventRow, 0, len(rows)-1), rows[:i]...)
		for j := i + 1; j < len(rows); j++ {
			if _, ok := seen[rows[j].EventID]; !ok {
				seen[rows[j].EventID] = struct{}{}
				out = append(out, rows[j])
			}
		}
		return out
	}
	return rows
}

// newEventParams are the parameters of one row in countNewSQL.
const newEventParams = 5

// maxParams is the parameter budget of one statement that maxRows was
// derived from (WithMaxParams), at least one row's worth.
func (s *Store) maxParams() int { return max(newEventParams, s.maxRows*eventColumns) }

// What a countNewSQL statement counts into.
const (
	countEvents = 'e' // stats_events
	countPages  = 'p' // stats_pages, PageEntered rows only
	countVisits = 'v' // visits.event_count
)

type countNewKey struct {
	into byte
	n    int
}

// countNewSQL counts n rows given as (eventId, visitId, correctedAt, name,
// url) into what into says; the rows' eventIds are distinct. D1 binds
// every number as a JavaScript number, which SQLite takes as REAL: the
// CAST keeps the bucket arithmetic in integers. (It also tells PostgreSQL
// the column's type, which it cannot infer from VALUES of parameters.)
func (s *Store) countNewSQL(into byte, n int) string {
	key := countNewKey{into, n}
	if v, ok := s.countNewSQLs.Load(key); ok {
		return v.(string)
	}
	var b strings.Builder
	rows := func() {
		b.WriteString(`(SELECT column1 AS event_id, column2 AS visit_id, column3 AS corrected_at, column4 AS name, column5 AS url
			FROM (VALUES `)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(?,?,CAST(? AS BIGINT),?,?)")
		}
		b.WriteString(`) AS r) e`)
	}
	const unstored = `NOT EXISTS (SELECT 1 FROM events s WHERE s.event_id = e.event_id)`
	switch into {
	case countVisits:
		b.WriteString(`UPDATE visits SET event_count = event_count + c.n FROM (SELECT e.visit_id, count(*) AS n FROM `)
		rows()
		b.WriteString(` WHERE ` + unstored + ` GROUP BY e.visit_id) AS c WHERE visits.visit_id = c.visit_id`)
	case countPages:
		b.WriteString(`INSERT INTO stats_pages (level, bucket, url, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, ` + pageURL + `, coalesce(v.bot, 0), count(*) FROM `)
		rows()
		b.WriteString(` LEFT JOIN visits v ON v.visit_id = e.visit_id, ` + statsLevels + ` l
		WHERE ` + unstored + ` AND e.name = 'PageEntered' GROUP BY 1, 2, 3, 4
		ON CONFLICT (level, bucket, url, bot) DO UPDATE SET n = stats_pages.n + excluded.n`)
	default:
		b.WriteString(`INSERT INTO stats_events (level, bucket, name, bot, n)
		SELECT l.size, e.corrected_at / l.size * l.size, e.name, coalesce(v.bot, 0), count(*) FROM `)
		rows()
		b.WriteString(` LEFT JOIN visits v ON v.visit_id = e.visit_id, ` + statsLevels + ` l
		WHERE ` + unstored + ` GROUP BY 1, 2, 3, 4
		ON CONFLICT (level, bucket, name, bot) DO UPDATE SET n = stats_events.n + excluded.n`)
	}
	s.countNewSQLs.Store(key, b.String())
	return b.String()
}
