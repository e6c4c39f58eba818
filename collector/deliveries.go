package collector

import "context"

// Delivery is one row of the webhook outbox: an announcement to one
// webhook, sent until the target accepts it or it is given up.
type Delivery struct {
	ID        string // the webhook-id header, the same on every attempt
	WebhookID string
	Type      string
	// EventID names the event a delivery announces: its body is built
	// from the stored event when it is sent, so that ingest writes a small
	// row, and an event erased meanwhile is not sent. Otherwise Body is
	// the body.
	EventID   string
	Body      []byte
	CreatedAt int64 // Unix ms
	Attempts  int   // attempts made before this one
}

// WebhookStore keeps the registered webhooks, secrets included: what the
// webhook service and the outbox need of storage. Errors: ENOTFOUND for
// an unknown id.
type WebhookStore interface {
	// CreateWebhook stores w, secret included.
	CreateWebhook(ctx context.Context, w *Webhook) error
	// Webhooks returns every webhook, oldest first, with its secret.
	Webhooks(ctx context.Context) ([]*Webhook, error)
	// DeleteWebhook removes the webhook, then its deliveries.
	DeleteWebhook(ctx context.Context, id string) error
}

// DeliveryStore is what the webhook delivery worker needs of storage: it
// claims the deliveries that came due, sends them, and settles each. Where
// several collectors share the database each delivery is claimed by one
// of them (docs/deployment.md). Times are Unix milliseconds.
type DeliveryStore interface {
	// Webhook returns one webhook with its secret, or ENOTFOUND.
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// Event returns one stored event, or ENOTFOUND (erased).
	Event(ctx context.Context, eventID string) (*Event, error)
	// DueWebhooks returns the ids of webhooks that have deliveries due at
	// now.
	DueWebhooks(ctx context.Context, now int64) ([]string, error)
	// ClaimDeliveries takes up to limit deliveries of the webhook due at
	// now, oldest due first, and makes them due again at leaseUntil, in
	// case the claimer dies before it settles them.
	ClaimDeliveries(ctx context.Context, webhookID string, now, leaseUntil int64, limit int) ([]*Delivery, error)
	// DeliveryDone settles a delivery the target accepted.
	DeliveryDone(ctx context.Context, id string, at int64) error
	// DeliveryFailed records a failed attempt: due again at nextAt, or
	// given up when nextAt is 0.
	DeliveryFailed(ctx context.Context, id string, at, nextAt int64, reason string) error
	// PendingDeliveries counts the deliveries not yet delivered or given
	// up.
	PendingDeliveries(ctx context.Context) (int, error)
	// ResumeDeliveries makes every delivery due at now when the worker
	// starts, where one collector writes the database.
	ResumeDeliveries(ctx context.Context, now int64) error
	// PurgeDeliveries deletes up to limit deliveries settled before
	// before, and returns how many.
	PurgeDeliveries(ctx context.Context, before int64, limit int) (int64, error)
	// PurgeOrphanDeliveries deletes the deliveries of webhooks that no
	// longer exist.
	PurgeOrphanDeliveries(ctx context.Context) (int64, error)
}
