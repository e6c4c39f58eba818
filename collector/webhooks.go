package collector

import (
	"context"
	"time"
)

// Webhook is a target that receives signed deliveries (Standard Webhooks)
// of the event types it subscribed to. Secret ("whsec_" + base64 key) is
// shown once, when the webhook is created.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	CreatedAt time.Time `json:"createdAt"`
	Secret    string    `json:"secret,omitempty"`
}

// Webhook event types besides the system event names SignIn, SignOut,
// UserInfo, VisitStarted and VisitEnded.
const (
	WebhookVisitorDataChanged = "visitorData.changed"
	// WebhookBusinessPrefix + a name subscribes to one business event;
	// WebhookBusinessPrefix + "*" to all of them.
	WebhookBusinessPrefix = "business:"
)

// WebhookService keeps webhooks. Errors: EINVALID for a URL that is not
// http(s), a target on a private network (unless allowed), an unknown
// event type; ENOTFOUND for an unknown id.
type WebhookService interface {
	// CreateWebhook stores a webhook and returns it with its new secret.
	CreateWebhook(ctx context.Context, url string, events []string) (*Webhook, error)
	// ListWebhooks returns the webhooks, oldest first, without secrets.
	ListWebhooks(ctx context.Context) ([]*Webhook, error)
	// DeleteWebhook removes the webhook and its pending deliveries.
	DeleteWebhook(ctx context.Context, id string) error
}
