package webhook

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
)

// Outbox writes deliveries in the commits of what they announce. It keeps
// the webhooks in memory (Reload after every change), so that a commit
// nothing subscribes to costs one atomic load. It implements
// ingest.Outbox, store.VisitorDataHook and collector.VisitorDataListener.
type Outbox struct {
	store  OutboxStore
	subs   atomic.Pointer[subscriptions]
	wrote  atomic.Bool // deliveries written since the last notice
	notify func()
	now    func() time.Time
	idMu   sync.Mutex
	idRand io.Reader
}

// OutboxStore is what the outbox needs of storage: the webhooks, and a
// delivery written in the transaction of the commit it announces. It is
// declared here rather than in the domain because it names the store's
// transaction and event rows, as ingest.Store does (docs/architecture.md#engines).
type OutboxStore interface {
	Webhooks(ctx context.Context) ([]*collector.Webhook, error)
	InsertDelivery(ctx context.Context, q store.Querier, d *collector.Delivery, nextAt int64, of *store.EventRow) (bool, error)
}

// subscriptions is the cached set of webhooks.
type subscriptions struct {
	all         []subscription
	events      bool // some webhook takes an event type
	visitorData bool // some webhook takes visitorData.changed
}

// NewOutbox returns an outbox on s that calls notify (the Worker's Notify)
// after a commit wrote deliveries. now and entropy may be nil.
func NewOutbox(s OutboxStore, notify func(), now func() time.Time, entropy io.Reader) *Outbox {
	if now == nil {
		now = time.Now
	}
	if entropy == nil {
		entropy = ulid.Monotonic(rand.Reader, 0)
	}
	if notify == nil {
		notify = func() {}
	}
	o := &Outbox{store: s, notify: notify, now: now, idRand: entropy}
	o.subs.Store(&subscriptions{})
	return o
}

// Reload reads the webhooks again.
func (o *Outbox) Reload(ctx context.Context) error {
	ws, err := o.store.Webhooks(ctx)
	if err != nil {
		return err
	}
	subs := &subscriptions{}
	for _, w := range ws {
		sub := newSubscription(w)
		subs.all = append(subs.all, sub)
		subs.visitorData = subs.visitorData || sub.types[collector.WebhookVisitorDataChanged]
		subs.events = subs.events || len(sub.types) > 1 || !sub.types[collector.WebhookVisitorDataChanged]
	}
	o.subs.Store(subs)
	return nil
}

// body is what a delivery POSTs.
type body struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// EventBody is the body of a delivery of event e as type t: the event in
// the REST API's field names, at its corrected time. The same event gives
// the same bytes on every attempt.
func EventBody(t string, e *collector.Event) ([]byte, error) {
	b, err := json.Marshal(body{Type: t, Timestamp: e.CorrectedAt, Data: e})
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", e.EventID, err)
	}
	return b, nil
}

// Announce writes a delivery for every stored event of rows and every
// webhook that subscribed to its type, on q (the commit's transaction).
// The delivery id is the same for the same event and webhook, and the row
// is written only if the event is stored as the row says, so a resent
// event is announced once. The row names the event; the worker builds the
// body when it sends (EventBody), which keeps the writer's work small.
func (o *Outbox) Announce(ctx context.Context, q store.Querier, rows []store.EventRow) error {
	subs := o.subs.Load()
	if !subs.events || len(rows) == 0 {
		return nil
	}
	now := o.now().UnixMilli()
	for i := range rows {
		r := &rows[i]
		t := typeOf(r.Name)
		if t == "" {
			continue
		}
		for _, sub := range subs.all {
			if !sub.wants(t) {
				continue
			}
			d := &collector.Delivery{ID: "msg_" + sub.id + "_" + r.EventID, WebhookID: sub.id, Type: t, EventID: r.EventID, CreatedAt: now}
			wrote, err := o.store.InsertDelivery(ctx, q, d, now, r)
			if err != nil {
				return err
			}
			if wrote {
				o.wrote.Store(true)
			}
		}
	}
	return nil
}

// Committed tells the worker about the deliveries of the commit that just
// ended.
func (o *Outbox) Committed() {
	if o.wrote.Swap(false) {
		o.notify()
	}
}

// WantsVisitorData reports whether a webhook takes visitorData.changed.
func (o *Outbox) WantsVisitorData() bool { return o.subs.Load().visitorData }

// visitorDataMessage is the data of visitorData.changed: the subject's
// whole document after the change, as GET /v1/stream shows it.
type visitorDataMessage struct {
	Subject    string          `json:"subject"` // "identity:<id>" or "visitor:<id>"
	IdentityID string          `json:"identityId,omitempty"`
	VisitorID  string          `json:"visitorId,omitempty"`
	Version    int64           `json:"version"`
	Data       json.RawMessage `json:"data"`
}

// VisitorDataWritten writes a visitorData.changed delivery per subscribed
// webhook, on q (the write's transaction).
func (o *Outbox) VisitorDataWritten(ctx context.Context, q store.Querier, vd *collector.VisitorData, at time.Time) error {
	subs := o.subs.Load()
	if !subs.visitorData {
		return nil
	}
	m := visitorDataMessage{Subject: vd.Subject.Key(), Version: vd.Version, Data: vd.Data}
	if vd.Subject.Kind == collector.SubjectIdentity {
		m.IdentityID = vd.Subject.ID
	} else {
		m.VisitorID = vd.Subject.ID
	}
	enc, err := json.Marshal(body{Type: collector.WebhookVisitorDataChanged, Timestamp: at.UTC(), Data: m})
	if err != nil {
		return fmt.Errorf("announce visitor data %s: %w", vd.Subject.Key(), err)
	}
	now := o.now().UnixMilli()
	for _, sub := range subs.all {
		if !sub.wants(collector.WebhookVisitorDataChanged) {
			continue
		}
		d := &collector.Delivery{ID: "msg_" + o.newID(), WebhookID: sub.id, Type: collector.WebhookVisitorDataChanged, Body: enc, CreatedAt: now}
		if _, err := o.store.InsertDelivery(ctx, q, d, now, nil); err != nil {
			return err
		}
		o.wrote.Store(true)
	}
	return nil
}

// VisitorDataChanged hears of a committed visitor-data write (it runs
// after the commit, unlike VisitorDataWritten).
func (o *Outbox) VisitorDataChanged(*collector.VisitorData) { o.Committed() }

func (o *Outbox) newID() string {
	o.idMu.Lock()
	defer o.idMu.Unlock()
	id, err := ulid.New(ulid.Timestamp(o.now()), o.idRand)
	if err != nil {
		id = ulid.MustNew(ulid.Timestamp(o.now()), rand.Reader)
	}
	return id.String()
}
