package webhook_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/metrics"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/collector/webhook"
	"github.com/visitrack/visitrack/shared/protocol"
)

var _ webhook.Observer = (*metrics.Metrics)(nil)

// counts is an Observer that counts.
type counts struct{ delivered, attemptsFailed, failed, pending atomic.Int64 }

func (c *counts) WebhookPending(n int)  { c.pending.Store(int64(n)) }
func (c *counts) WebhookDelivered()     { c.delivered.Add(1) }
func (c *counts) WebhookAttemptFailed() { c.attemptsFailed.Add(1) }
func (c *counts) WebhookFailed()        { c.failed.Add(1) }

// env is the real pipeline on a real SQLite file: ingest with the
// outbox, visitor data with its hook, the worker with short delays.
type env struct {
	t      *testing.T
	s      *store.Store
	in     *ingest.Ingester
	vd     *store.VisitorData
	outbox *webhook.Outbox
	svc    *webhook.Service
	obs    *counts
	stop   func()
}

func newEnv(t *testing.T, tune func(*webhook.Config)) *env {
	t.Helper()
	e := &env{t: t, s: storetest.New(t), obs: &counts{}}
	cfg := webhook.Config{
		Store: e.s, Guard: webhook.Guard{AllowPrivate: true}, Observer: e.obs,
		Backoff: func(n int) time.Duration { return time.Duration(n) * 20 * time.Millisecond },
		Poll:    20 * time.Millisecond, Timeout: 5 * time.Second,
	}
	if tune != nil {
		tune(&cfg)
	}
	w := webhook.NewWorker(cfg)
	e.outbox = webhook.NewOutbox(e.s, w.Notify, nil, nil)
	e.svc = webhook.NewService(e.s, cfg.Guard, e.outbox, nil, nil)
	e.vd = store.NewVisitorData(e.s)
	e.vd.SetHook(e.outbox)
	e.vd.AddListener(e.outbox)
	signer, err := identity.NewSigner(make([]byte, 32), 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.in, err = ingest.New(ingest.Config{Store: e.s, Signer: signer, VisitorData: e.vd, Outbox: e.outbox})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	var once sync.Once
	e.stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(func() {
		e.stop()
		e.in.Close(context.Background())
	})
	return e
}

// register creates a webhook for r and gives r its secret.
func (e *env) register(r *receiver, types ...string) *collector.Webhook {
	e.t.Helper()
	w, err := e.svc.CreateWebhook(context.Background(), r.URL(), types)
	if err != nil {
		e.t.Fatal(err)
	}
	r.setSecret(w.Secret)
	return w
}

// collect stores events of one visit through ingest and returns its ids.
func (e *env) collect(c *ingest.Client, events ...protocol.Event) []string {
	e.t.Helper()
	raw := make([]json.RawMessage, len(events))
	for i := range events {
		raw[i], _ = json.Marshal(events[i])
	}
	res, err := e.in.Collect(context.Background(), *c, time.Now().UTC().Format(time.RFC3339Nano), raw)
	if err != nil {
		e.t.Fatal(err)
	}
	if len(res.Ack.Rejected) > 0 {
		e.t.Fatalf("rejected: %+v", res.Ack.Rejected)
	}
	// The next batch continues the visit as a browser would: with the key
	// the collector issued beside the visitorId (docs/security.md#browser-key).
	c.VisitorID, c.VisitID = res.Visit.VisitorID, res.Visit.VisitID
	if res.Visit.VisitorKey != "" {
		c.VisitorKey = res.Visit.VisitorKey
	}
	return res.Ack.EventIDs
}

func deliveryID(w *collector.Webhook, eventID string) string { return "msg_" + w.ID + "_" + eventID }

// Deliveries carry the event in the REST API's field names, signed; only
// subscribed types are sent; a resent batch is not announced again.
func TestDeliversSubscribedEvents(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	w := e.register(r, "SignIn", "business:AddToCart")
	page := collectortest.NewID()
	c := &ingest.Client{IP: "192.0.2.1"}
	events := []protocol.Event{
		collectortest.Event("VisitStarted", "", nil),
		collectortest.Event("PageEntered", page, nil),
		collectortest.Event("AddToCart", page, map[string]any{"sku": "A-1"}),
		collectortest.Event("Checkout", page, nil),
		collectortest.Event("SignIn", page, map[string]any{"userId": "alice@example.com"}),
	}
	e.collect(c, events...)
	cart, signIn := deliveryID(w, events[2].EventID), deliveryID(w, events[4].EventID)
	r.wait("two deliveries", func() bool { return len(r.accepted) == 2 })

	// The same batch again (a tracker's resend): nothing new.
	e.collect(c, events...)
	e.collect(c, collectortest.Event("AddToCart", page, map[string]any{"sku": "B-2"}))
	r.wait("the third delivery", func() bool { return len(r.accepted) == 3 })
	r.check()

	// Once settled deliveries are purged, a resend is still not announced
	// again, nor is another visit's event that reuses a stored eventId:
	// only the event as stored is.
	waitFor(t, "the deliveries settled", func() bool {
		n, err := e.s.PendingDeliveries(context.Background())
		return err == nil && n == 0
	})
	if n, err := e.s.PurgeDeliveries(context.Background(), time.Now().Add(time.Hour).UnixMilli(), 100); err != nil || n != 3 {
		t.Fatalf("purged %d: %v", n, err)
	}
	e.collect(c, events...)
	// Another visit reuses the stored eventId on a page of its own (a
	// pageId belongs to one visit, docs/protocol.md#what-the-collector-accepts).
	stray := events[2]
	stray.PageID = collectortest.NewID()
	other := &ingest.Client{}
	e.collect(other, collectortest.Event("PageEntered", stray.PageID, nil), stray)
	e.collect(c, collectortest.Event("AddToCart", page, nil))
	r.wait("the fourth delivery", func() bool { return len(r.accepted) == 4 })
	if n := storetest.Count(t, e.s, "webhook_deliveries", ""); n != 1 {
		t.Errorf("%d deliveries after the resends, want 1", n)
	}
	r.check()

	got := r.bodies()
	if len(got) != 4 {
		t.Fatalf("%d deliveries, want 4", len(got))
	}
	for id, typ := range map[string]string{cart: "business:AddToCart", signIn: "SignIn"} {
		b := got[id]
		if b == nil {
			t.Fatalf("no delivery %s; got %v", id, got)
		}
		if b["type"] != typ {
			t.Errorf("%s: type %v, want %s", id, b["type"], typ)
		}
		data, _ := b["data"].(map[string]any)
		if _, err := time.Parse(time.RFC3339, b["timestamp"].(string)); err != nil || data["timestamp"] == nil {
			t.Errorf("%s: timestamp %v", id, b["timestamp"])
		}
		for _, k := range []string{"eventId", "visitId", "visitorId", "sessionId", "name", "category", "correctedAt", "receivedAt", "data"} {
			if _, ok := data[k]; !ok {
				t.Errorf("%s: data lacks %s: %v", id, k, data)
			}
		}
	}
	if d := got[signIn]["data"].(map[string]any); d["identityId"] == nil || d["data"].(map[string]any)["userId"] != "alice@example.com" {
		t.Errorf("SignIn data %v", d)
	}
	waitFor(t, "the delivered counter at 4", func() bool { return e.obs.delivered.Load() == 4 })
}

// The receiver goes down and comes back: every delivery arrives, once per
// id, after attempts with the same id.
func TestRetriesUntilTheTargetComesBack(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	w := e.register(r, "business:*")
	r.down()
	c := &ingest.Client{}
	var ids []string
	for i := 0; i < 5; i++ {
		for _, id := range e.collect(c, collectortest.Event("Order", "", map[string]any{"n": i})) {
			ids = append(ids, deliveryID(w, id))
		}
	}
	// Wait until every delivery has failed at least twice.
	waitFor(t, "failed attempts", func() bool {
		for _, id := range ids {
			st, err := e.s.DeliveryStatus(context.Background(), id)
			if err != nil || st.Attempts < 2 || !st.Pending || !strings.Contains(st.LastError, "refused") {
				return false
			}
		}
		return true
	})
	r.up()
	r.wait("every delivery", func() bool { return len(r.accepted) == len(ids) })
	r.check()
	for _, id := range ids {
		waitFor(t, "delivery "+id+" settled", func() bool {
			st, err := e.s.DeliveryStatus(context.Background(), id)
			return err == nil && st.Delivered
		})
		st, _ := e.s.DeliveryStatus(context.Background(), id)
		if st.Pending || st.Attempts < 3 {
			t.Errorf("%s: %+v", id, st)
		}
		r.mu.Lock()
		n := r.attempts[id]
		r.mu.Unlock()
		if n != 1 {
			t.Errorf("%s reached the receiver %d times, want 1 (it was down before)", id, n)
		}
	}
	if e.obs.attemptsFailed.Load() < int64(2*len(ids)) {
		t.Errorf("failed attempts counted %d", e.obs.attemptsFailed.Load())
	}

	// A target answering 500 is retried too, with the same id.
	r.setStatus(http.StatusInternalServerError)
	id := deliveryID(w, e.collect(c, collectortest.Event("Order", "", nil))[0])
	r.wait("three attempts at 500", func() bool { return r.attempts[id] >= 3 })
	r.setStatus(http.StatusNoContent)
	r.wait("the delivery after the 500s", func() bool { _, ok := r.accepted[id]; return ok })
	r.check()
}

// A target that answers 500 forever is given up after GiveUpAfter, with
// the reason kept, and counted.
func TestGivesUp(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config) { c.GiveUpAfter = 300 * time.Millisecond })
	r := newReceiver(t)
	w := e.register(r, "business:*")
	r.setStatus(http.StatusInternalServerError)
	id := deliveryID(w, e.collect(&ingest.Client{}, collectortest.Event("Order", "", nil))[0])
	waitFor(t, "the delivery given up", func() bool {
		st, err := e.s.DeliveryStatus(context.Background(), id)
		return err == nil && st.Failed
	})
	st, _ := e.s.DeliveryStatus(context.Background(), id)
	if st.Pending || st.Delivered || !strings.Contains(st.LastError, "HTTP 500") || st.Attempts < 2 {
		t.Errorf("given up: %+v", st)
	}
	if e.obs.failed.Load() != 1 {
		t.Errorf("failed counter %d", e.obs.failed.Load())
	}
}

// A slow target holds back only itself.
func TestSlowTargetDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config) { c.Timeout = 30 * time.Second })
	release := make(chan struct{})
	var slowHits atomic.Int64
	slow := newReceiver(t)
	slow.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slowHits.Add(1)
		<-release
	})
	t.Cleanup(func() { close(release) })
	fast := newReceiver(t)
	e.register(slow, "business:*")
	e.register(fast, "business:*")
	c := &ingest.Client{}
	for i := 0; i < 20; i++ {
		e.collect(c, collectortest.Event("Order", "", map[string]any{"n": i}))
	}
	fast.wait("all 20 at the fast target", func() bool { return len(fast.accepted) == 20 })
	fast.check()
	waitFor(t, "the slow target to hold its lane", func() bool { return slowHits.Load() >= 1 })
}

// Redirects are not followed, and a target whose name now resolves to a
// private address (here: a webhook stored before the guard, or DNS
// rebinding) is refused when the worker dials it.
func TestRefusesRedirectsAndPrivateTargets(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config) { c.Guard = webhook.Guard{} })
	var hits atomic.Int64
	target := newReceiver(t)
	target.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) })
	ctx := context.Background()
	hook := &collector.Webhook{ID: collectortest.NewID(), URL: target.URL(), Events: []string{"business:*"},
		CreatedAt: time.Now(), Secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}
	if err := e.s.CreateWebhook(ctx, hook); err != nil {
		t.Fatal(err)
	}
	if err := e.outbox.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	id := deliveryID(hook, e.collect(&ingest.Client{}, collectortest.Event("Order", "", nil))[0])
	waitFor(t, "a refused attempt", func() bool {
		st, err := e.s.DeliveryStatus(ctx, id)
		return err == nil && st.Attempts >= 1
	})
	st, _ := e.s.DeliveryStatus(ctx, id)
	if !strings.Contains(st.LastError, "refused to connect") || !strings.Contains(st.LastError, "loopback") || !st.Pending {
		t.Errorf("private target: %+v", st)
	}
	if hits.Load() != 0 {
		t.Errorf("the private target was reached %d times", hits.Load())
	}

	// A redirect, even to a good address, is a failed attempt.
	e2 := newEnv(t, nil)
	r := newReceiver(t)
	redirect := newReceiver(t)
	redirect.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		http.Redirect(w, req, r.URL(), http.StatusTemporaryRedirect)
	})
	w := e2.register(redirect, "business:*")
	r.setSecret(w.Secret)
	id = deliveryID(w, e2.collect(&ingest.Client{}, collectortest.Event("Order", "", nil))[0])
	waitFor(t, "a redirected attempt", func() bool {
		st, err := e2.s.DeliveryStatus(ctx, id)
		return err == nil && st.Attempts >= 1
	})
	st, _ = e2.s.DeliveryStatus(ctx, id)
	if !strings.Contains(st.LastError, "redirect") || !st.Pending {
		t.Errorf("redirect: %+v", st)
	}
	r.mu.Lock()
	if len(r.attempts) != 0 {
		t.Errorf("the redirect was followed: %v", r.attempts)
	}
	r.mu.Unlock()
}

// A target that answers with a huge body is read only a little: the
// delivery completes, and a huge error body is clipped in the record.
func TestHugeResponses(t *testing.T) {
	e := newEnv(t, nil)
	var status atomic.Int64
	status.Store(http.StatusInternalServerError)
	r := newReceiver(t)
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.WriteHeader(int(status.Load()))
		chunk := []byte(strings.Repeat("x", 64<<10))
		for i := 0; i < 1600; i++ { // 100 MB, if anyone read it
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	w := e.register(r, "business:*")
	id := deliveryID(w, e.collect(&ingest.Client{}, collectortest.Event("Order", "", nil))[0])
	waitFor(t, "a failed attempt", func() bool {
		st, err := e.s.DeliveryStatus(context.Background(), id)
		return err == nil && st.Attempts >= 1
	})
	st, _ := e.s.DeliveryStatus(context.Background(), id)
	if !strings.Contains(st.LastError, "HTTP 500") || len(st.LastError) > 200 {
		t.Errorf("error record of %d bytes: %.120q", len(st.LastError), st.LastError)
	}
	status.Store(http.StatusOK)
	waitFor(t, "the delivery", func() bool {
		st, err := e.s.DeliveryStatus(context.Background(), id)
		return err == nil && st.Delivered
	})
}

// Visitor-data writes announce the new document with its subject and
// version; a write that fails announces nothing.
func TestVisitorDataChanged(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	w := e.register(r, "visitorData.changed")
	c := &ingest.Client{}
	e.collect(c, collectortest.Event("Order", "", nil)) // makes the visitor exist
	ctx := context.Background()
	subject := collector.Subject{Kind: collector.SubjectVisitor, ID: c.VisitorID}
	if _, err := e.vd.PatchNamespace(ctx, subject, "crm", json.RawMessage(`{"tier":"gold"}`), nil); err != nil {
		t.Fatal(err)
	}
	stale := int64(7)
	if _, err := e.vd.PatchNamespace(ctx, subject, "crm", json.RawMessage(`{"tier":"x"}`), &stale); collector.ErrorCode(err) != collector.EPRECONDITIONFAILED {
		t.Fatalf("stale write: %v", err)
	}
	if _, err := e.vd.PutNamespace(ctx, subject, "cart", json.RawMessage(`{"n":2}`)); err != nil {
		t.Fatal(err)
	}
	r.wait("two visitorData.changed", func() bool { return len(r.accepted) == 2 })
	r.check()
	versions := map[float64]map[string]any{}
	for id, b := range r.bodies() {
		if !strings.HasPrefix(id, "msg_") || b["type"] != "visitorData.changed" {
			t.Errorf("%s: %v", id, b)
		}
		d := b["data"].(map[string]any)
		if d["subject"] != "visitor:"+c.VisitorID || d["visitorId"] != c.VisitorID {
			t.Errorf("subject %v", d)
		}
		versions[d["version"].(float64)] = d["data"].(map[string]any)
	}
	if versions[1] == nil || versions[2] == nil || versions[2]["cart"] == nil || versions[1]["cart"] != nil {
		t.Errorf("versions %v", versions)
	}
	_ = w
}

// Deleting a webhook stops its deliveries; its pending ones go with it.
func TestDeleteStopsDeliveries(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	w := e.register(r, "business:*")
	r.down()
	c := &ingest.Client{}
	id := deliveryID(w, e.collect(c, collectortest.Event("Order", "", nil))[0])
	ctx := context.Background()
	if err := e.svc.DeleteWebhook(ctx, w.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.DeliveryStatus(ctx, id); collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Errorf("pending delivery after delete: %v", err)
	}
	e.collect(c, collectortest.Event("Order", "", nil))
	if n := storetest.Count(t, e.s, "webhook_deliveries", ""); n != 0 {
		t.Errorf("%d deliveries written for a deleted webhook", n)
	}
	if err := e.svc.DeleteWebhook(ctx, w.ID); collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Errorf("second delete: %v", err)
	}

	// A delivery written for a webhook as it was deleted (an outbox with
	// the old list) is never sent, and the purge removes it.
	orphan := &store.Delivery{ID: "msg_orphan", WebhookID: w.ID, Type: "business:Order", Body: []byte(`{}`), CreatedAt: 1}
	if _, err := e.s.InsertDelivery(ctx, e.s.DB(), orphan, 1, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.PurgeOrphanDeliveries(ctx); err != nil || n != 1 {
		t.Errorf("purged %d orphans: %v", n, err)
	}
}

// An announcement is part of its commit: rolled back with it.
func TestAnnounceRollsBackWithItsCommit(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	e.register(r, "business:*")
	ctx := context.Background()
	tx, err := e.s.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A visit that is not stored: any key will do for the outbox.
	row := store.EventRow{EventID: collectortest.NewID(), VisitID: collectortest.NewID(), VisitKey: 1, VisitorID: collectortest.NewID(),
		SessionID: collectortest.NewID(), Name: "Order", Category: "business", Timestamp: 1, CorrectedAt: 1, ReceivedAt: 1, Data: "{}"}
	if _, _, err := e.s.InsertEvents(ctx, tx, []store.EventRow{row}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.outbox.Announce(ctx, tx, []store.EventRow{row}); err != nil {
		t.Fatal(err)
	}
	var n int
	tx.QueryRowContext(ctx, `SELECT count(*) FROM webhook_deliveries`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d deliveries inside the transaction, want 1", n)
	}
	tx.Rollback()
	if n := storetest.Count(t, e.s, "webhook_deliveries", ""); n != 0 {
		t.Errorf("%d deliveries after the rollback", n)
	}
}

// waitFor polls cond until it holds, for at most a minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A restarted worker tries every pending delivery at once, even one whose
// backoff had put it hours away.
func TestRestartResumesPending(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config) { c.Backoff = func(int) time.Duration { return time.Hour } })
	r := newReceiver(t)
	w := e.register(r, "business:*")
	r.setStatus(http.StatusServiceUnavailable)
	id := deliveryID(w, e.collect(&ingest.Client{}, collectortest.Event("Order", "", nil))[0])
	ctx := context.Background()
	waitFor(t, "a failed attempt", func() bool {
		st, err := e.s.DeliveryStatus(ctx, id)
		return err == nil && st.Attempts == 1 && st.Pending
	})
	e.stop()
	r.setStatus(http.StatusOK)

	w2 := webhook.NewWorker(webhook.Config{Store: e.s, Guard: webhook.Guard{AllowPrivate: true}, Poll: 20 * time.Millisecond})
	ctx2, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); w2.Run(ctx2) }()
	defer func() { cancel(); <-done }()
	r.wait("the delivery after the restart", func() bool { _, ok := r.accepted[id]; return ok })
	r.check()
}

// An event erased before its delivery was sent is never sent: the
// erasure takes the delivery with it, and an attempt that finds its event
// gone (an erasure that ran while the delivery was claimed) drops it.
func TestErasedEventIsNotSent(t *testing.T) {
	e := newEnv(t, nil)
	r := newReceiver(t)
	w := e.register(r, "business:*")
	r.setStatus(http.StatusServiceUnavailable)
	c, racing := &ingest.Client{}, &ingest.Client{}
	id := deliveryID(w, e.collect(c, collectortest.Event("Order", "", map[string]any{"secret": "s3"}))[0])
	raced := e.collect(racing, collectortest.Event("Order", "", map[string]any{"secret": "s4"}))[0]
	ctx := context.Background()
	waitFor(t, "failed attempts", func() bool {
		a, err := e.s.DeliveryStatus(ctx, id)
		b, err2 := e.s.DeliveryStatus(ctx, deliveryID(w, raced))
		return err == nil && err2 == nil && a.Attempts >= 1 && b.Attempts >= 1
	})
	if err := e.s.DeleteVisitor(ctx, c.VisitorID, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.DeliveryStatus(ctx, id); collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Fatalf("the erased visitor's delivery is still in the outbox: %v", err)
	}
	// The race: the event is gone, its delivery still pending.
	if _, err := e.s.DB().ExecContext(ctx, `DELETE FROM events WHERE event_id = ?`, raced); err != nil {
		t.Fatal(err)
	}
	r.setStatus(http.StatusOK)
	waitFor(t, "the delivery dropped", func() bool {
		st, err := e.s.DeliveryStatus(ctx, deliveryID(w, raced))
		return err == nil && st.Failed
	})
	// A later event is delivered, so the worker ran after the erasure.
	later := deliveryID(w, e.collect(&ingest.Client{}, collectortest.Event("Order", "", nil))[0])
	r.wait("a later delivery", func() bool { _, ok := r.accepted[later]; return ok })
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.accepted) != 1 {
		t.Errorf("an erased event was delivered: %v", r.accepted)
	}
}

// An attempt hanging at a target does not hold back that target's next
// deliveries: they are tried at once, beside it.
func TestHangingAttemptDoesNotHoldBackItsTarget(t *testing.T) {
	e := newEnv(t, func(c *webhook.Config) { c.Timeout = 5 * time.Minute })
	release := make(chan struct{})
	var first atomic.Bool
	r := newReceiver(t)
	t.Cleanup(func() { close(release) }) // before the receiver closes
	inner := r.srv.Config.Handler
	r.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if first.CompareAndSwap(false, true) {
			select { // the first attempt hangs
			case <-release:
			case <-req.Context().Done():
			}
			return
		}
		inner.ServeHTTP(w, req)
	})
	e.register(r, "business:*")
	c := &ingest.Client{}
	e.collect(c, collectortest.Event("Order", "", nil))
	waitFor(t, "the first attempt to hang", func() bool { return first.Load() })
	for i := 0; i < 3; i++ {
		e.collect(c, collectortest.Event("Order", "", map[string]any{"n": i}))
	}
	r.wait("the three later deliveries", func() bool { return len(r.accepted) == 3 })
	r.check()
}
