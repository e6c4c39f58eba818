package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
)

// EngageEvent is a stored event as the engagement engine replays it.
type EngageEvent struct {
	PageID, Name, URL, Title, Data string
	At                             int64 // corrected, ms
}

// EngageHistory returns when visitID started (0 for an unknown visit) and,
// oldest first, the latest limit of its events with since <= corrected
// time < before: what the engagement engine replays to rebuild a visit's
// windows after a restart (docs/engagement.md). One read of the visits'
// key and of the events_visit index.
func (s *Store) EngageHistory(ctx context.Context, visitID string, since, before int64, limit int) (int64, []EngageEvent, error) {
	var started, key int64
	err := s.db.QueryRowContext(ctx, `SELECT started_at, visit_key FROM visits WHERE visit_id = ?`, visitID).Scan(&started, &key)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("events of visit %s: %w", visitID, err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT page_id, name, url, title, data, corrected_at FROM events
		WHERE visit_key = ? AND corrected_at >= ? AND corrected_at < ? ORDER BY corrected_at DESC, event_id DESC LIMIT ?`,
		key, since, before, limit)
	if err != nil {
		return 0, nil, fmt.Errorf("events of visit %s: %w", visitID, err)
	}
	evs, err := scanAll(rows, func(sc scanner) (EngageEvent, error) {
		var e EngageEvent
		err := sc.Scan(&e.PageID, &e.Name, &e.URL, &e.Title, &e.Data, &e.At)
		return e, err
	})
	if err != nil {
		return 0, nil, fmt.Errorf("events of visit %s: %w", visitID, err)
	}
	slices.Reverse(evs)
	return started, evs, nil
}

// OfferMadeSince reports whether rule ruleID made an offer to visitID at
// or after since. Run under the visit's lock (the writer's transaction),
// it keeps two nodes from both offering for the same dwell.
func (s *Store) OfferMadeSince(ctx context.Context, q Querier, visitID, ruleID string, since int64) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM engagement_offers WHERE visit_id = ? AND rule_id = ? AND offered_at >= ?`,
		visitID, ruleID, since).Scan(&n); err != nil {
		return false, fmt.Errorf("offers of rule %s to visit %s: %w", ruleID, visitID, err)
	}
	return n > 0, nil
}

// EngageVisit is an open visit whose state the engagement engine restores
// at start.
type EngageVisit struct {
	VisitID, VisitorID string
}

// EngageOpenVisits returns up to limit visits still open and seen since
// (ms), the most recently seen first: at start the engagement engine
// rebuilds their state so that a dwell due in a page left open fires with
// no further event (docs/engagement.md). One read of the visits_open index.
func (s *Store) EngageOpenVisits(ctx context.Context, since int64, limit int) ([]EngageVisit, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT visit_id, visitor_id FROM visits
		WHERE ended_at IS NULL AND last_seen_at >= ? ORDER BY last_seen_at DESC LIMIT ?`, since, limit)
	if err != nil {
		return nil, fmt.Errorf("open visits: %w", err)
	}
	out, err := scanAll(rows, func(sc scanner) (EngageVisit, error) {
		var v EngageVisit
		err := sc.Scan(&v.VisitID, &v.VisitorID)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("open visits: %w", err)
	}
	return out, nil
}
