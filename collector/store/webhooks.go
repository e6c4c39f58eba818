package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/visitrack/visitrack/collector"
)

// The SQL of webhooks: the targets, and the outbox of deliveries that the
// worker (package webhook) claims, sends and settles. Each method is one
// statement, so each is atomic on D1 too; InsertDelivery takes the Querier
// of the commit whose change it announces.

// CreateWebhook stores w, secret included.
func (s *Store) CreateWebhook(ctx context.Context, w *collector.Webhook) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO webhooks (webhook_id, url, events, secret, created_at)
		VALUES (?, ?, ?, ?, ?)`, w.ID, w.URL, string(events), w.Secret, ms(w.CreatedAt)); err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	return nil
}

const webhookColumns = `webhook_id, url, events, secret, created_at`

func scanWebhook(sc scanner) (*collector.Webhook, error) {
	var (
		w       collector.Webhook
		events  string
		created int64
	)
	if err := sc.Scan(&w.ID, &w.URL, &events, &w.Secret, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return nil, fmt.Errorf("webhook %s: stored events: %w", w.ID, err)
	}
	w.CreatedAt = fromMS(created)
	return &w, nil
}

// Webhooks returns every webhook, oldest first, with its secret: for the
// outbox and the worker, not for display.
func (s *Store) Webhooks(ctx context.Context) ([]*collector.Webhook, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+webhookColumns+` FROM webhooks ORDER BY created_at, webhook_id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	ws, err := scanAll(rows, scanWebhook)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	return ws, nil
}

// Webhook returns one webhook with its secret, or ENOTFOUND.
func (s *Store) Webhook(ctx context.Context, id string) (*collector.Webhook, error) {
	w, err := scanWebhook(s.db.QueryRowContext(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE webhook_id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "webhook %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("find webhook %s: %w", id, err)
	}
	return w, nil
}

// DeleteWebhook removes the webhook, then its deliveries; ENOTFOUND when
// there is none. Deliveries an outbox writes for it meanwhile are never
// sent (the worker finds no webhook) and PurgeOrphanDeliveries removes
// them.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhooks WHERE webhook_id = ?`, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return collector.Errorf(collector.ENOTFOUND, "webhook %s not found", id)
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = ?`, id); err != nil {
		return fmt.Errorf("delete deliveries of webhook %s: %w", id, err)
	}
	return nil
}

// Delivery is one row of the outbox.
type Delivery = collector.Delivery

// The store keeps what the webhook service, outbox and worker need.
var (
	_ collector.WebhookStore  = (*Store)(nil)
	_ collector.DeliveryStore = (*Store)(nil)
)

// InsertDelivery writes d to the outbox, due at nextAt, unless a delivery
// with its id exists (an announcement is written once). A delivery of an
// event (d.EventID) is written only if the event is stored as of says
// (same visit, same receipt): a resent event that the events table kept
// from before, or an eventId another browser already used, is not
// announced again. It reports whether it wrote the row.
func (s *Store) InsertDelivery(ctx context.Context, q Querier, d *Delivery, nextAt int64, of *EventRow) (bool, error) {
	var res sql.Result
	var err error
	if of == nil {
		res, err = s.execHot(ctx, q, `INSERT INTO webhook_deliveries (delivery_id, webhook_id, type, event_id, body, created_at, next_at)
			VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id) DO NOTHING`,
			d.ID, d.WebhookID, d.Type, nullIfEmpty(d.EventID), string(d.Body), d.CreatedAt, nextAt)
	} else {
		res, err = s.execHot(ctx, q, `INSERT INTO webhook_deliveries (delivery_id, webhook_id, type, event_id, body, created_at, next_at)
			SELECT ?, ?, ?, ?, '', ?, ? WHERE EXISTS (SELECT 1 FROM events
				WHERE event_id = ? AND visit_id = ? AND received_at = ?)
			ON CONFLICT (delivery_id) DO NOTHING`,
			d.ID, d.WebhookID, d.Type, of.EventID, d.CreatedAt, nextAt, of.EventID, of.VisitID, of.ReceivedAt)
	}
	if err != nil {
		return false, fmt.Errorf("write delivery %s: %w", d.ID, err)
	}
	n, err := res.RowsAffected()
	return err == nil && n > 0, nil
}

// Event returns one stored event, or ENOTFOUND (erased).
func (s *Store) Event(ctx context.Context, eventID string) (*collector.Event, error) {
	e, err := scanEvent(s.db.QueryRowContext(ctx, `SELECT event_id, visit_id, visitor_id, session_id, identity_id, page_id,
		name, category, timestamp, corrected_at, received_at, url, title, referrer, data FROM events WHERE event_id = ?`, eventID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "event %s not found", eventID)
	}
	if err != nil {
		return nil, fmt.Errorf("find event %s: %w", eventID, err)
	}
	return e, nil
}

// DueWebhooks returns the ids of webhooks that have deliveries due at now.
func (s *Store) DueWebhooks(ctx context.Context, now int64) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT webhook_id FROM webhook_deliveries
		WHERE next_at IS NOT NULL AND next_at <= ?`, now)
	if err != nil {
		return nil, fmt.Errorf("find due deliveries: %w", err)
	}
	ids, err := scanAll(rows, func(sc scanner) (string, error) {
		var id string
		return id, sc.Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("find due deliveries: %w", err)
	}
	return ids, nil
}

// ClaimDeliveries takes up to limit deliveries of the webhook that are
// due at now, oldest due first, and moves their next_at to leaseUntil: if
// the claimer dies before it settles them, they come due again then. One
// statement, so two claimers never take the same row: SQLite runs one
// writer at a time; on PostgreSQL, where the collectors of a database
// claim at once, the rows are locked as they are chosen and a row another
// claimer holds is skipped (the dialect's SkipLocked), since a row chosen
// before that claimer's commit would otherwise be claimed again.
func (s *Store) ClaimDeliveries(ctx context.Context, webhookID string, now, leaseUntil int64, limit int) ([]*Delivery, error) {
	rows, err := s.db.QueryContext(ctx, `UPDATE webhook_deliveries SET next_at = ?
		WHERE delivery_id IN (SELECT delivery_id FROM webhook_deliveries
			WHERE webhook_id = ? AND next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?`+s.dialect.SkipLocked+`)
		RETURNING delivery_id, webhook_id, type, coalesce(event_id, ''), body, created_at, attempts`, leaseUntil, webhookID, now, limit)
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of webhook %s: %w", webhookID, err)
	}
	ds, err := scanAll(rows, func(sc scanner) (*Delivery, error) {
		var d Delivery
		var body string
		if err := sc.Scan(&d.ID, &d.WebhookID, &d.Type, &d.EventID, &body, &d.CreatedAt, &d.Attempts); err != nil {
			return nil, err
		}
		d.Body = []byte(body)
		return &d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim deliveries of webhook %s: %w", webhookID, err)
	}
	return ds, nil
}

// DeliveryDone settles a delivery that a target accepted: it is never
// tried again, and its body (a copy of someone's data) is dropped. The
// row stays until PurgeDeliveries, so that the same announcement is not
// written twice meanwhile.
func (s *Store) DeliveryDone(ctx context.Context, id string, at int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET next_at = NULL, delivered_at = ?,
		attempts = attempts + 1, body = '', last_error = '' WHERE delivery_id = ?`, at, id); err != nil {
		return fmt.Errorf("settle delivery %s: %w", id, err)
	}
	return nil
}

// DeliveryFailed records a failed attempt: the delivery comes due again at
// nextAt, or, when nextAt is 0, it is given up (failed_at) and its body
// dropped.
func (s *Store) DeliveryFailed(ctx context.Context, id string, at, nextAt int64, reason string) error {
	var err error
	if nextAt > 0 {
		_, err = s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET next_at = ?, attempts = attempts + 1,
			last_error = ? WHERE delivery_id = ?`, nextAt, reason, id)
	} else {
		_, err = s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET next_at = NULL, failed_at = ?,
			attempts = attempts + 1, body = '', last_error = ? WHERE delivery_id = ?`, at, reason, id)
	}
	if err != nil {
		return fmt.Errorf("record failed delivery %s: %w", id, err)
	}
	return nil
}

// NextDeliveryAt returns when the next delivery comes due (Unix ms), and
// false when none is pending.
func (s *Store) NextDeliveryAt(ctx context.Context) (int64, bool, error) {
	var at sql.NullInt64
	if err := s.db.QueryRowContext(ctx, `SELECT min(next_at) FROM webhook_deliveries WHERE next_at IS NOT NULL`).Scan(&at); err != nil {
		return 0, false, fmt.Errorf("next delivery: %w", err)
	}
	return at.Int64, at.Valid, nil
}

// PendingDeliveries counts the deliveries not yet delivered or given up.
func (s *Store) PendingDeliveries(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries WHERE next_at IS NOT NULL`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count pending deliveries: %w", err)
	}
	return n, nil
}

// DeliveryState is what the outbox knows of one delivery, for tests and
// operators.
type DeliveryState struct {
	Attempts  int
	Pending   bool
	Delivered bool
	Failed    bool
	LastError string
}

// DeliveryStatus returns the state of delivery id, or ENOTFOUND.
func (s *Store) DeliveryStatus(ctx context.Context, id string) (*DeliveryState, error) {
	var st DeliveryState
	var next, delivered, failed sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT attempts, next_at, delivered_at, failed_at, last_error
		FROM webhook_deliveries WHERE delivery_id = ?`, id).Scan(&st.Attempts, &next, &delivered, &failed, &st.LastError)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, collector.Errorf(collector.ENOTFOUND, "delivery %s not found", id)
	}
	if err != nil {
		return nil, fmt.Errorf("delivery %s: %w", id, err)
	}
	st.Pending, st.Delivered, st.Failed = next.Valid, delivered.Valid, failed.Valid
	return &st, nil
}

// PurgeDeliveries deletes up to limit deliveries settled before before,
// and returns how many.
func (s *Store) PurgeDeliveries(ctx context.Context, before int64, limit int) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE delivery_id IN (
		SELECT delivery_id FROM webhook_deliveries
		WHERE next_at IS NULL AND coalesce(delivered_at, failed_at) < ? LIMIT ?)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("purge deliveries: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PurgeOrphanDeliveries deletes the deliveries of webhooks that no longer
// exist (an outbox may write one for a webhook being deleted). It reads
// the whole table: run it rarely.
func (s *Store) PurgeOrphanDeliveries(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries
		WHERE webhook_id NOT IN (SELECT webhook_id FROM webhooks)`)
	if err != nil {
		return 0, fmt.Errorf("purge deliveries of deleted webhooks: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// ResumeDeliveries makes every pending delivery due at now at the latest:
// the worker calls it when it starts, so that what was pending or in
// flight when the collector stopped (or was killed) is tried at once.
// Where several collectors share the database it does nothing: a node
// that starts cannot tell a dead node's claim from a live one's, and
// making a delivery in flight due again would send it twice. A dead
// node's claims come due when they lapse.
func (s *Store) ResumeDeliveries(ctx context.Context, now int64) error {
	if s.dialect.Shared {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `UPDATE webhook_deliveries SET next_at = ? WHERE next_at > ?`, now, now); err != nil {
		return fmt.Errorf("resume deliveries: %w", err)
	}
	return nil
}
