package collector

import (
	"context"
	"encoding/json"
	"time"
)

// Notification is a backend's message to the open pages of one visit
// (Genesys's Notification API, docs/integrations.md#notifications). It is not stored: a page
// that is not open when it is sent never sees it.
type Notification struct {
	ID      string          // a ULID, made by the collector
	VisitID string          // the visit whose open pages get it
	Channel string          // named like a visitor-data namespace
	Data    json.RawMessage // any JSON value, at most 16 KiB
	// Offer is set for an engagement offer (docs/engagement.md): the
	// frame's kind is "offer".
	Offer *OfferNotice
}

// OfferNotice is what an offer's frame carries besides a notification's.
type OfferNotice struct {
	RuleID    string
	ExpiresAt time.Time
}

// Notifier hands notifications to open pages. The live package's hub
// implements it; the REST API depends only on this interface, so that it
// need not know how pages are connected.
type Notifier interface {
	// Notify sends n to every open page of n.VisitID and returns how many
	// it reached: 0 when the visit has no open page. It does not wait on
	// a slow page beyond ctx.
	Notify(ctx context.Context, n *Notification) (delivered int, err error)
}
