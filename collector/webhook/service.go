package webhook

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector"
)

// maxWebhooks bounds the webhooks of one collector: each is matched
// against every committed event.
const maxWebhooks = 100

// Service implements collector.WebhookService: it validates webhooks,
// stores them and keeps the Outbox's copy current.
type Service struct {
	store  collector.WebhookStore
	guard  Guard
	outbox *Outbox
	now    func() time.Time
	mu     sync.Mutex // serializes changes, so the count limit holds
	rand   io.Reader
}

var _ collector.WebhookService = (*Service)(nil)

// NewService returns the service; now and random may be nil.
func NewService(s collector.WebhookStore, g Guard, o *Outbox, now func() time.Time, random io.Reader) *Service {
	if now == nil {
		now = time.Now
	}
	if random == nil {
		random = rand.Reader
	}
	return &Service{store: s, guard: g, outbox: o, now: now, rand: random}
}

// CreateWebhook checks url (Guard.CheckURL) and the event types
// (CheckTypes), and stores the webhook with a new secret.
func (s *Service) CreateWebhook(ctx context.Context, url string, events []string) (*collector.Webhook, error) {
	u, err := s.guard.CheckURL(ctx, url)
	if err != nil {
		return nil, err
	}
	types, err := CheckTypes(events)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	all, err := s.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	if len(all) >= maxWebhooks {
		return nil, collector.Errorf(collector.ECONFLICT, "there are %d webhooks already, the most a collector keeps: delete one first", len(all))
	}
	secret, err := NewSecret(s.rand)
	if err != nil {
		return nil, fmt.Errorf("create webhook: secret: %w", err)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	id, err := ulid.New(ulid.Timestamp(now), s.rand)
	if err != nil {
		return nil, fmt.Errorf("create webhook: id: %w", err)
	}
	w := &collector.Webhook{ID: id.String(), URL: u.String(), Events: types, CreatedAt: now, Secret: secret}
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		return nil, err
	}
	if err := s.outbox.Reload(ctx); err != nil {
		return nil, fmt.Errorf("create webhook: %w", err)
	}
	return w, nil
}

// ListWebhooks returns the webhooks without their secrets.
func (s *Service) ListWebhooks(ctx context.Context) ([]*collector.Webhook, error) {
	ws, err := s.store.Webhooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, w := range ws {
		w.Secret = ""
	}
	return ws, nil
}

// DeleteWebhook removes the webhook and its pending deliveries.
func (s *Service) DeleteWebhook(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.store.DeleteWebhook(ctx, id); err != nil {
		return err
	}
	if err := s.outbox.Reload(ctx); err != nil {
		return fmt.Errorf("delete webhook: %w", err)
	}
	return nil
}
