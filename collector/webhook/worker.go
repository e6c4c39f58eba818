package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// Config configures a Worker. Zero values take the defaults.
type Config struct {
	Store collector.DeliveryStore
	Guard Guard
	// Timeout bounds one attempt, connection to last byte (default 10 s).
	Timeout time.Duration
	// Backoff is the delay before attempt n+1 after n failed attempts
	// (default DefaultBackoff); tests make it short.
	Backoff func(failures int) time.Duration
	// GiveUpAfter is how long a delivery is retried (default 24 h).
	GiveUpAfter time.Duration
	// PerTarget is the attempts in flight to one webhook (default 4).
	PerTarget int
	// Poll is how often the worker looks for deliveries that came due
	// (default 1 s); a commit that writes deliveries wakes it at once.
	Poll time.Duration
	// Reload, when set, is how often the outbox reads the registered
	// webhooks again: with several collectors on one database, a webhook
	// registered or deleted through another node reaches this one's
	// outbox within that time (docs/deployment.md). Zero reads them only
	// when this node changes them (one collector).
	Reload time.Duration
	// Transport sends the requests; nil builds one whose dialer checks
	// every address with Guard.Control. Tests only.
	Transport http.RoundTripper
	Observer  Observer
	Logger    *slog.Logger
	Now       func() time.Time
}

// Observer receives the worker's measurements (package metrics).
type Observer interface {
	// WebhookPending is the number of deliveries not yet settled.
	WebhookPending(n int)
	// WebhookDelivered counts deliveries a target accepted.
	WebhookDelivered()
	// WebhookAttemptFailed counts failed attempts (retried later).
	WebhookAttemptFailed()
	// WebhookFailed counts deliveries given up after GiveUpAfter.
	WebhookFailed()
}

type nopObserver struct{}

func (nopObserver) WebhookPending(int)    {}
func (nopObserver) WebhookDelivered()     {}
func (nopObserver) WebhookAttemptFailed() {}
func (nopObserver) WebhookFailed()        {}

// schedule is DefaultBackoff's table: the first three retries 5 s, 15 s
// and 40 s after the first attempt (within a minute, docs/integrations.md#webhooks),
// then waits growing about threefold up to 8 h.
var schedule = []time.Duration{5 * time.Second, 10 * time.Second, 25 * time.Second,
	2 * time.Minute, 5 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}

// DefaultBackoff is the wait after the failures-th failed attempt: 5 s,
// 10 s, 25 s (so the retries come 5, 15 and 40 s after the first
// attempt), then 2 min, 5 min, 15 min, 30 min, 1 h, 2 h, 4 h and 8 h.
func DefaultBackoff(failures int) time.Duration {
	return schedule[min(max(failures, 1), len(schedule))-1]
}

// maxResponse is how much of a response body the worker reads.
const maxResponse = 4 << 10

// Worker sends the outbox's deliveries. Run it once per database.
type Worker struct {
	cfg    Config
	client *http.Client
	wake   chan struct{}

	mu      sync.Mutex
	lanes   map[string]int  // webhook → senders running
	failing map[string]bool // webhooks whose last attempt failed (logged once)
	wg      sync.WaitGroup
}

// NewWorker returns a worker; Run starts it.
func NewWorker(cfg Config) *Worker {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.GiveUpAfter <= 0 {
		cfg.GiveUpAfter = 24 * time.Hour
	}
	if cfg.PerTarget <= 0 {
		cfg.PerTarget = 4
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Observer == nil {
		cfg.Observer = nopObserver{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var rt http.RoundTripper = cfg.Transport
	if rt == nil {
		rt = cfg.Guard.Transport(cfg.Timeout, cfg.PerTarget)
	}
	return &Worker{
		cfg:     cfg,
		client:  Client(rt, cfg.Timeout),
		wake:    make(chan struct{}, 1),
		lanes:   map[string]int{},
		failing: map[string]bool{},
	}
}

// Notify wakes the worker: deliveries were committed. It never blocks.
func (w *Worker) Notify() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// lease is how long a claimed delivery stays claimed: past the attempt's
// timeout, so that only a crash lets it come due again.
func (w *Worker) lease() time.Duration { return w.cfg.Timeout + 20*time.Second }

// Run sends deliveries until ctx ends, then waits for the attempts in
// flight (they end with ctx). Deliveries pending from before (a crash, a
// restart) are due at once.
func (w *Worker) Run(ctx context.Context) {
	defer w.wg.Wait()
	if err := w.cfg.Store.ResumeDeliveries(ctx, w.cfg.Now().UnixMilli()); err != nil && ctx.Err() == nil {
		w.cfg.Logger.Error("webhooks: resume pending deliveries", "err", err)
	}
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	var lastCount, lastPurge time.Time
	for {
		w.dispatch(ctx)
		now := w.cfg.Now()
		if now.Sub(lastCount) >= 10*w.cfg.Poll {
			lastCount = now
			if n, err := w.cfg.Store.PendingDeliveries(ctx); err == nil {
				w.cfg.Observer.WebhookPending(n)
			}
		}
		if now.Sub(lastPurge) >= time.Hour {
			lastPurge = now
			w.purge(ctx, now)
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wake:
		case <-t.C:
		}
	}
}

// dispatch tops up the senders of every webhook with due deliveries to
// PerTarget: one slow attempt must not keep the next deliveries of the
// same target waiting, and a slow target never holds more than PerTarget
// senders.
func (w *Worker) dispatch(ctx context.Context) {
	ids, err := w.cfg.Store.DueWebhooks(ctx, w.cfg.Now().UnixMilli())
	if err != nil {
		if ctx.Err() == nil {
			w.cfg.Logger.Error("webhooks: find due deliveries", "err", err)
		}
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, id := range ids {
		if w.lanes[id] >= w.cfg.PerTarget {
			continue
		}
		hook, err := w.cfg.Store.Webhook(ctx, id)
		if collector.ErrorCode(err) == collector.ENOTFOUND {
			continue // deleted; PurgeOrphanDeliveries removes what is left
		}
		if err != nil {
			w.cfg.Logger.Error("webhooks: load webhook", "webhook", id, "err", err)
			continue
		}
		for ; w.lanes[id] < w.cfg.PerTarget; w.lanes[id]++ {
			w.wg.Add(1)
			go func() {
				defer w.wg.Done()
				w.drain(ctx, hook)
				w.mu.Lock()
				if w.lanes[id]--; w.lanes[id] == 0 {
					delete(w.lanes, id)
				}
				w.mu.Unlock()
			}()
		}
	}
}

// drain claims and sends the webhook's due deliveries one at a time until
// none is due.
func (w *Worker) drain(ctx context.Context, hook *collector.Webhook) {
	for ctx.Err() == nil {
		now := w.cfg.Now()
		ds, err := w.cfg.Store.ClaimDeliveries(ctx, hook.ID, now.UnixMilli(), now.Add(w.lease()).UnixMilli(), 1)
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Logger.Error("webhooks: claim deliveries", "webhook", hook.ID, "err", err)
			}
			return
		}
		if len(ds) == 0 {
			return
		}
		w.attempt(ctx, hook, ds[0])
	}
}

// attempt sends d once and settles the outcome.
func (w *Worker) attempt(ctx context.Context, hook *collector.Webhook, d *collector.Delivery) {
	if d.EventID != "" {
		e, err := w.cfg.Store.Event(ctx, d.EventID)
		if err == nil {
			d.Body, err = EventBody(d.Type, e)
		}
		if err != nil && collector.ErrorCode(err) != collector.ENOTFOUND {
			// The database, not the event: the lease brings it back.
			if ctx.Err() == nil {
				w.cfg.Logger.Error("webhooks: read the event of a delivery", "delivery", d.ID, "err", err)
			}
			return
		}
		if err != nil {
			// Erased since: nothing of it may be announced any more.
			w.cfg.Logger.Info("webhooks: dropped a delivery whose event was erased", "delivery", d.ID)
			if serr := w.cfg.Store.DeliveryFailed(ctx, d.ID, w.cfg.Now().UnixMilli(), 0, clip(err.Error())); serr != nil {
				w.cfg.Logger.Error("webhooks: record failed delivery", "delivery", d.ID, "err", serr)
			}
			return
		}
	}
	err := w.send(ctx, hook, d)
	if ctx.Err() != nil {
		return // shutting down: the lease brings it back after the restart
	}
	now := w.cfg.Now()
	if err == nil {
		if serr := w.cfg.Store.DeliveryDone(ctx, d.ID, now.UnixMilli()); serr != nil {
			w.cfg.Logger.Error("webhooks: settle delivery", "delivery", d.ID, "err", serr)
			return
		}
		w.cfg.Observer.WebhookDelivered()
		w.setFailing(hook, false, nil)
		return
	}
	w.cfg.Observer.WebhookAttemptFailed()
	w.setFailing(hook, true, err)
	failures := d.Attempts + 1
	deadline := time.UnixMilli(d.CreatedAt).Add(w.cfg.GiveUpAfter)
	next := now.Add(w.cfg.Backoff(failures))
	if next.After(deadline) {
		next = deadline // one last attempt at the end of the window
	}
	nextMS := next.UnixMilli()
	if !now.Before(deadline) {
		nextMS = 0 // given up
		w.cfg.Observer.WebhookFailed()
		w.cfg.Logger.Warn("webhooks: gave up a delivery", "webhook", hook.ID, "delivery", d.ID, "attempts", failures, "err", err)
	}
	if serr := w.cfg.Store.DeliveryFailed(ctx, d.ID, now.UnixMilli(), nextMS, clip(err.Error())); serr != nil {
		w.cfg.Logger.Error("webhooks: record failed delivery", "delivery", d.ID, "err", serr)
	}
}

// setFailing logs a webhook's change from working to failing and back,
// once each, so that a dead target does not flood the log.
func (w *Worker) setFailing(hook *collector.Webhook, failing bool, err error) {
	w.mu.Lock()
	was := w.failing[hook.ID]
	if failing {
		w.failing[hook.ID] = true
	} else {
		delete(w.failing, hook.ID)
	}
	w.mu.Unlock()
	switch {
	case failing && !was:
		w.cfg.Logger.Warn("webhooks: target failing; retrying with backoff", "webhook", hook.ID, "url", hook.URL, "err", err)
	case !failing && was:
		w.cfg.Logger.Info("webhooks: target accepts deliveries again", "webhook", hook.ID, "url", hook.URL)
	}
}

// send POSTs d to the webhook and returns nil for a 2xx answer.
func (w *Worker) send(ctx context.Context, hook *collector.Webhook, d *collector.Delivery) error {
	ts := w.cfg.Now().Unix()
	sig, err := Sign(hook.Secret, d.ID, ts, d.Body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hook.URL, bytes.NewReader(d.Body))
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", "Visitrack-Webhooks/1")
	h.Set("webhook-id", d.ID)
	h.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	h.Set("webhook-signature", sig)
	res, err := w.client.Do(req)
	if err != nil {
		if errors.Is(err, errBlocked) {
			return fmt.Errorf("refused to connect: %w", errors.Unwrap(err))
		}
		return err
	}
	defer res.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(res.Body, maxResponse))
	switch {
	case res.StatusCode >= 200 && res.StatusCode < 300:
		return nil
	case res.StatusCode >= 300 && res.StatusCode < 400:
		return fmt.Errorf("HTTP %d redirect to %q not followed: the webhook URL must answer itself", res.StatusCode, clip(res.Header.Get("Location")))
	}
	return fmt.Errorf("HTTP %d: %q", res.StatusCode, clip(string(snippet)))
}

// purge deletes deliveries settled over a week ago (kept that long so
// that a resent event is not announced twice) and those of deleted
// webhooks.
func (w *Worker) purge(ctx context.Context, now time.Time) {
	for {
		n, err := w.cfg.Store.PurgeDeliveries(ctx, now.Add(-7*24*time.Hour).UnixMilli(), 1000)
		if err != nil {
			if ctx.Err() == nil {
				w.cfg.Logger.Error("webhooks: purge settled deliveries", "err", err)
			}
			return
		}
		if n < 1000 {
			break
		}
	}
	if _, err := w.cfg.Store.PurgeOrphanDeliveries(ctx); err != nil && ctx.Err() == nil {
		w.cfg.Logger.Error("webhooks: purge deliveries of deleted webhooks", "err", err)
	}
}
