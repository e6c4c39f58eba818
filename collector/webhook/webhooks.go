package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// Webhooks is the whole of it for a collector: the outbox that ingest and
// visitor data write to (embedded: it is the ingest.Outbox,
// store.VisitorDataHook and collector.VisitorDataListener), the worker
// that sends, and the service behind the REST endpoints. The native
// daemon builds it and hands it to the server; the edge build never links
// this package (its HTTP client and dialer would weigh about 1 MB there).
type Webhooks struct {
	*Outbox
	worker  *Worker
	service *Service
	reload  time.Duration
	logger  *slog.Logger

	mu   sync.Mutex
	stop func()
}

// Store is what the webhooks need of storage, all of it: the service's
// webhooks, the outbox's writes and the worker's deliveries.
type Store interface {
	collector.WebhookStore
	collector.DeliveryStore
	OutboxStore
}

// New builds the webhooks of store s from cfg (cfg.Store is set to s)
// and reads the registered webhooks. Start runs the worker.
func New(ctx context.Context, s Store, cfg Config) (*Webhooks, error) {
	cfg.Store = s
	w := &Webhooks{worker: NewWorker(cfg), reload: cfg.Reload, logger: cfg.Logger}
	w.Outbox = NewOutbox(s, w.worker.Notify, cfg.Now, nil)
	w.service = NewService(s, cfg.Guard, w.Outbox, cfg.Now, nil)
	if err := w.Outbox.Reload(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Service returns the REST API's webhook service.
func (w *Webhooks) Service() collector.WebhookService { return w.service }

// Start runs the worker in the background until Stop.
func (w *Webhooks) Start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stop != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.worker.Run(ctx)
	}()
	if w.reload > 0 {
		reloaded := make(chan struct{})
		go func() {
			defer close(reloaded)
			w.reloadEvery(ctx)
		}()
		w.stop = func() { cancel(); <-done; <-reloaded }
		return
	}
	w.stop = func() { cancel(); <-done }
}

// Stop ends the worker and waits for it. Attempts in flight end
// unsettled; the next Start tries them again.
func (w *Webhooks) Stop() {
	w.mu.Lock()
	stop := w.stop
	w.stop = nil
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// reloadEvery reads the registered webhooks again every w.reload until ctx
// ends: other nodes on the same database register and delete webhooks too.
// A failed read keeps the webhooks read before, and is logged.
func (w *Webhooks) reloadEvery(ctx context.Context) {
	t := time.NewTicker(w.reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := w.Outbox.Reload(ctx); err != nil && ctx.Err() == nil && w.logger != nil {
				w.logger.Warn("webhooks: reading the registered webhooks again failed; the ones read before stay", "err", err)
			}
		}
	}
}
