package webhook_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// receiver is a webhook target on loopback that checks every signature
// with the reference library, deduplicates on webhook-id as Standard
// Webhooks asks receivers to, and can go down (refuse connections) and
// come back on the same address.
type receiver struct {
	t    testing.TB
	addr string

	mu       sync.Mutex
	srv      *httptest.Server
	secret   string
	status   int                        // answer while up (200 by default)
	attempts map[string]int             // webhook-id → requests seen
	accepted map[string]json.RawMessage // webhook-id → body, first 2xx
	again    []string                   // ids delivered again after a 2xx
	bad      []string                   // signature failures
	changed  chan struct{}
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{t: t, status: 200, attempts: map[string]int{}, accepted: map[string]json.RawMessage{}, changed: make(chan struct{}, 1)}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.addr = r.srv.Listener.Addr().String()
	t.Cleanup(r.down)
	return r
}

func (r *receiver) URL() string { return "http://" + r.addr + "/hook" }

func (r *receiver) setSecret(s string) { r.mu.Lock(); r.secret = s; r.mu.Unlock() }

func (r *receiver) setStatus(s int) { r.mu.Lock(); r.status = s; r.mu.Unlock() }

// down closes the listener: connections are refused.
func (r *receiver) down() {
	r.mu.Lock()
	srv := r.srv
	r.srv = nil
	r.mu.Unlock()
	if srv != nil {
		srv.CloseClientConnections()
		srv.Close()
	}
}

// up listens again on the same address.
func (r *receiver) up() {
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the port may linger for a moment
		if ln, err = net.Listen("tcp", r.addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		r.t.Fatalf("receiver up again on %s: %v", r.addr, err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serve))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	r.mu.Lock()
	r.srv = srv
	r.mu.Unlock()
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	defer func() {
		r.mu.Unlock()
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}()
	wh, err := standardwebhooks.NewWebhook(r.secret)
	if err == nil {
		err = wh.Verify(body, req.Header)
	}
	if err != nil {
		r.bad = append(r.bad, id+": "+err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	r.attempts[id]++
	if r.status/100 != 2 {
		w.WriteHeader(r.status)
		return
	}
	if _, ok := r.accepted[id]; ok {
		r.again = append(r.again, id)
	} else {
		r.accepted[id] = body
	}
	w.WriteHeader(r.status)
}

// wait waits until cond (called with the lock held) holds.
func (r *receiver) wait(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			r.t.Fatalf("receiver: timed out waiting for %s; attempts %v, accepted %d, bad %v", what, r.attempts, len(r.accepted), r.bad)
		}
	}
}

// check fails the test on a bad signature or a delivery repeated after a
// 2xx.
func (r *receiver) check() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("receiver: bad signatures: %v", r.bad)
	}
	if len(r.again) > 0 {
		r.t.Errorf("receiver: delivered again after a 2xx: %v", r.again)
	}
}

// bodies returns the accepted bodies, decoded, by webhook-id.
func (r *receiver) bodies() map[string]map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[string]any{}
	for id, b := range r.accepted {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("delivery %s: %v: %s", id, err, b)
		}
		out[id] = m
	}
	return out
}
