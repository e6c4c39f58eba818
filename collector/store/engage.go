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
	"github.com/visitrack/visitrack/collector/engage"
)

// Engagement's categories, rules and offers (docs/engagement.md). A
// category or a rule is kept as the JSON it was given and parsed again
// when read, so that what validates is what runs.

// Offer outcomes as engagement_offers stores them.
const (
	OutcomeAccepted = "accepted"
	OutcomeDeclined = "declined"
	OutcomeTimedOut = "timed_out"
)

// CreateCategory stores a new category. ECONFLICT when its name is taken.
func (s *Store) CreateCategory(ctx context.Context, c *engage.Category) error {
	tags, err := json.Marshal(c.Tags)
	if err != nil {
		return fmt.Errorf("create category: %w", err)
	}
	now := s.now()
	c.ID, c.Version, c.CreatedAt, c.UpdatedAt = ulid.MustNew(ulid.Timestamp(now), rand.Reader).String(), 1, fromMS(ms(now)), fromMS(ms(now))
	res, err := s.db.ExecContext(ctx, `INSERT INTO engagement_categories (category_id, name, tags, version, created_at, updated_at)
		SELECT ?, ?, ?, 1, ?, ? WHERE NOT EXISTS (SELECT 1 FROM engagement_categories WHERE name = ?)`,
		c.ID, c.Name, string(tags), ms(now), ms(now), c.Name)
	if err != nil {
		return fmt.Errorf("create category: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return collector.Errorf(collector.ECONFLICT, "a category named %q exists", c.Name)
	}
	return nil
}

// ReplaceCategory replaces category c.ID's name and tags if its version is
// still version. ENOTFOUND, EPRECONDITIONFAILED for another version,
// ECONFLICT for a name another category has.
func (s *Store) ReplaceCategory(ctx context.Context, c *engage.Category, version int64) error {
	tags, err := json.Marshal(c.Tags)
	if err != nil {
		return fmt.Errorf("replace category: %w", err)
	}
	cur, err := s.Category(ctx, c.ID)
	if err != nil {
		return err
	}
	if cur.Version != version {
		return collector.Errorf(collector.EPRECONDITIONFAILED, "category %s is at version %d, not %d", c.ID, cur.Version, version)
	}
	now := ms(s.now())
	res, err := s.db.ExecContext(ctx, `UPDATE engagement_categories SET name = ?, tags = ?, version = version + 1, updated_at = ?
		WHERE category_id = ? AND version = ? AND NOT EXISTS (SELECT 1 FROM engagement_categories o WHERE o.name = ? AND o.category_id <> ?)`,
		c.Name, string(tags), now, c.ID, version, c.Name, c.ID)
	if err != nil {
		return fmt.Errorf("replace category %s: %w", c.ID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return collector.Errorf(collector.ECONFLICT, "category %s changed meanwhile, or the name %q is taken", c.ID, c.Name)
	}
	c.Version, c.CreatedAt, c.UpdatedAt = version+1, cur.CreatedAt, fromMS(now)
	return nil
}

// Category returns one category; ENOTFOUND.
func (s *Store) Category(ctx context.Context, id string) (*engage.Category, error) {
	c, err := scanCategory(s.db.QueryRowContext(ctx, `SELECT category_id, name, tags, version, created_at, updated_at
		FROM engagement_categories WHERE category_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "category %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read category %s: %w", id, err)
	}
	return c, nil
}

// Categories returns every category, by name.
func (s *Store) Categories(ctx context.Context) ([]*engage.Category, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT category_id, name, tags, version, created_at, updated_at
		FROM engagement_categories ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	cats, err := scanAll(rows, scanCategory)
	if err != nil {
		return nil, fmt.Errorf("list categories: %w", err)
	}
	return cats, nil
}

// DeleteCategory removes a category; ENOTFOUND.
func (s *Store) DeleteCategory(ctx context.Context, id string) error {
	return s.deleteOne(ctx, `DELETE FROM engagement_categories WHERE category_id = ?`, "category", id)
}

func scanCategory(sc scanner) (*engage.Category, error) {
	var (
		c        engage.Category
		tags     string
		cre, upd int64
	)
	if err := sc.Scan(&c.ID, &c.Name, &tags, &c.Version, &cre, &upd); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(tags), &c.Tags); err != nil {
		return nil, fmt.Errorf("category %s: stored tags: %w", c.ID, err)
	}
	c.CreatedAt, c.UpdatedAt = fromMS(cre), fromMS(upd)
	return &c, nil
}

// CreateRule stores a rule given as its JSON body (which engage.ParseRule
// accepted) and returns it.
func (s *Store) CreateRule(ctx context.Context, body []byte) (*engage.Rule, error) {
	now := s.now()
	id := ulid.MustNew(ulid.Timestamp(now), rand.Reader).String()
	if _, err := s.db.ExecContext(ctx, `INSERT INTO engagement_rules (rule_id, body, version, created_at, updated_at)
		VALUES (?, ?, 1, ?, ?)`, id, string(body), ms(now), ms(now)); err != nil {
		return nil, fmt.Errorf("create rule: %w", err)
	}
	return s.Rule(ctx, id)
}

// ReplaceRule replaces rule id's body if its version is still version.
// ENOTFOUND; EPRECONDITIONFAILED for another version.
func (s *Store) ReplaceRule(ctx context.Context, id string, version int64, body []byte) (*engage.Rule, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE engagement_rules SET body = ?, version = version + 1, updated_at = ?
		WHERE rule_id = ? AND version = ?`, string(body), ms(s.now()), id, version)
	if err != nil {
		return nil, fmt.Errorf("replace rule %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		cur, err := s.Rule(ctx, id)
		if err != nil {
			return nil, err
		}
		return nil, collector.Errorf(collector.EPRECONDITIONFAILED, "rule %s is at version %d, not %d", id, cur.Version, version)
	}
	return s.Rule(ctx, id)
}

// Rule returns one rule; ENOTFOUND.
func (s *Store) Rule(ctx context.Context, id string) (*engage.Rule, error) {
	r, err := scanRule(s.db.QueryRowContext(ctx, `SELECT rule_id, body, version, created_at, updated_at
		FROM engagement_rules WHERE rule_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "rule %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("read rule %s: %w", id, err)
	}
	return r, nil
}

// Rules returns every rule, oldest first.
func (s *Store) Rules(ctx context.Context) ([]*engage.Rule, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT rule_id, body, version, created_at, updated_at
		FROM engagement_rules ORDER BY rule_id`)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	rules, err := scanAll(rows, scanRule)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return rules, nil
}

// DeleteRule removes a rule; ENOTFOUND. Its offers stay for the stats.
func (s *Store) DeleteRule(ctx context.Context, id string) error {
	return s.deleteOne(ctx, `DELETE FROM engagement_rules WHERE rule_id = ?`, "rule", id)
}

// CountRules and CountCategories bound how many a collector keeps.
func (s *Store) CountRules(ctx context.Context) (int, error) {
	return s.countOf(ctx, `SELECT count(*) FROM engagement_rules`)
}

func (s *Store) CountCategories(ctx context.Context) (int, error) {
	return s.countOf(ctx, `SELECT count(*) FROM engagement_categories`)
}

func (s *Store) countOf(ctx context.Context, query string) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, query).Scan(&n); err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return n, nil
}

func (s *Store) deleteOne(ctx context.Context, query, what, id string) error {
	res, err := s.db.ExecContext(ctx, query, id)
	if err != nil {
		return fmt.Errorf("delete %s %s: %w", what, id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return collector.Errorf(collector.ENOTFOUND, "%s %s not found", what, id)
	}
	return nil
}

func scanRule(sc scanner) (*engage.Rule, error) {
	var (
		id, body string
		version  int64
		cre, upd int64
	)
	if err := sc.Scan(&id, &body, &version, &cre, &upd); err != nil {
		return nil, err
	}
	r, err := engage.ParseRule([]byte(body))
	if err != nil {
		return nil, fmt.Errorf("rule %s: stored body: %w", id, err)
	}
	r.ID, r.Version, r.CreatedAt, r.UpdatedAt = id, version, fromMS(cre), fromMS(upd)
	return r, nil
}

// OfferRow is one offer made.
type OfferRow struct {
	OfferID, RuleID, VisitID, VisitorID string
	OfferedAt, ExpiresAt                int64
}

// OfferBlocked tells why the unless of a rule forbids an offer to
// visitorID at now ("" when it does not): the same rule's offer within
// offeredWithin ms, or perDay offers of any rule in the last 24 hours.
func (s *Store) OfferBlocked(ctx context.Context, q Querier, visitorID, ruleID string, now, offeredWithin int64, perDay int) (string, error) {
	if offeredWithin > 0 {
		var n int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM engagement_offers
			WHERE visitor_id = ? AND rule_id = ? AND offered_at > ?`, visitorID, ruleID, now-offeredWithin).Scan(&n); err != nil {
			return "", fmt.Errorf("read offers: %w", err)
		}
		if n > 0 {
			return "offeredWithin", nil
		}
	}
	if perDay > 0 {
		var n int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM engagement_offers
			WHERE visitor_id = ? AND offered_at > ?`, visitorID, now-86_400_000).Scan(&n); err != nil {
			return "", fmt.Errorf("read offers: %w", err)
		}
		if n >= perDay {
			return "maxPerVisitorPerDay", nil
		}
	}
	return "", nil
}

// InsertOffer records an offer made.
func (s *Store) InsertOffer(ctx context.Context, q Querier, o *OfferRow) error {
	if _, err := q.ExecContext(ctx, `INSERT INTO engagement_offers (offer_id, rule_id, visit_id, visitor_id, offered_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?)`, o.OfferID, o.RuleID, o.VisitID, o.VisitorID, o.OfferedAt, o.ExpiresAt); err != nil {
		return fmt.Errorf("record offer %s: %w", o.OfferID, err)
	}
	return nil
}

// SettleOffer gives the open offer offerID of visitID its outcome at at,
// and reports whether it was open: made to that visit, not answered, and
// (for an answer from the page) not expired.
func (s *Store) SettleOffer(ctx context.Context, q Querier, offerID, visitID, outcome string, at int64) (ruleID string, ok bool, err error) {
	expiry := `AND expires_at >= ?`
	if outcome == OutcomeTimedOut {
		expiry = `AND ? >= 0`
	}
	err = q.QueryRowContext(ctx, `UPDATE engagement_offers SET outcome = ?, answered_at = ?
		WHERE offer_id = ? AND visit_id = ? AND outcome IS NULL `+expiry+` RETURNING rule_id`,
		outcome, at, offerID, visitID, at).Scan(&ruleID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("settle offer %s: %w", offerID, err)
	}
	return ruleID, true, nil
}

// OpenOffers returns the offers not yet answered, for the engine to time
// them out after a restart.
func (s *Store) OpenOffers(ctx context.Context) ([]OfferRow, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT offer_id, rule_id, visit_id, visitor_id, offered_at, expires_at
		FROM engagement_offers WHERE outcome IS NULL`)
	if err != nil {
		return nil, fmt.Errorf("open offers: %w", err)
	}
	out, err := scanAll(rows, func(sc scanner) (OfferRow, error) {
		var o OfferRow
		err := sc.Scan(&o.OfferID, &o.RuleID, &o.VisitID, &o.VisitorID, &o.OfferedAt, &o.ExpiresAt)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("open offers: %w", err)
	}
	return out, nil
}

// GoalReached marks the accepted offers of visitID for ruleIDs as having
// reached their goal at at (the first time only).
func (s *Store) GoalReached(ctx context.Context, q Querier, visitID string, ruleIDs []string, at int64) error {
	if len(ruleIDs) == 0 {
		return nil
	}
	args := []any{at, visitID, OutcomeAccepted}
	for _, id := range ruleIDs {
		args = append(args, id)
	}
	if _, err := q.ExecContext(ctx, `UPDATE engagement_offers SET goal_at = ?
		WHERE visit_id = ? AND outcome = ? AND goal_at IS NULL AND rule_id IN (?`+strings.Repeat(", ?", len(ruleIDs)-1)+`)`, args...); err != nil {
		return fmt.Errorf("goal reached in visit %s: %w", visitID, err)
	}
	return nil
}

// RuleStats are a rule's offers by outcome.
type RuleStats struct {
	RuleID      string `json:"ruleId"`
	Offered     int    `json:"offered"`
	Accepted    int    `json:"accepted"`
	Declined    int    `json:"declined"`
	TimedOut    int    `json:"timedOut"`
	Open        int    `json:"open"`
	GoalReached int    `json:"goalReached"`
}

// RuleStats counts rule id's offers (the rule need not exist any more).
func (s *Store) RuleStats(ctx context.Context, id string) (*RuleStats, error) {
	st := &RuleStats{RuleID: id}
	err := s.db.QueryRowContext(ctx, `SELECT count(*),
		coalesce(sum(CASE WHEN outcome = 'accepted' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN outcome = 'declined' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN outcome = 'timed_out' THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN outcome IS NULL THEN 1 ELSE 0 END), 0),
		coalesce(sum(CASE WHEN goal_at IS NOT NULL THEN 1 ELSE 0 END), 0)
		FROM engagement_offers WHERE rule_id = ?`, id).Scan(&st.Offered, &st.Accepted, &st.Declined, &st.TimedOut, &st.Open, &st.GoalReached)
	if err != nil {
		return nil, fmt.Errorf("rule %s stats: %w", id, err)
	}
	return st, nil
}
