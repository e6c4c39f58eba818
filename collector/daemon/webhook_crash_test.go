package daemon_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestWebhooksSurviveSIGKILL: deliveries pending, some of them in flight
// to a receiver that hangs, when the collector is SIGKILLed; after the
// restart every one arrives, under the webhook-id it was first tried
// with, and each is accepted once.
func TestWebhooksSurviveSIGKILL(t *testing.T) {
	var (
		mu       sync.Mutex
		secret   string
		up       bool
		tried    = map[string]int{}
		accepted = map[string]int{}
		bad      []string
	)
	hang := make(chan struct{})
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		id := r.Header.Get("webhook-id")
		mu.Lock()
		wh, err := standardwebhooks.NewWebhook(secret)
		if err == nil {
			err = wh.Verify(body, r.Header)
		}
		if err != nil {
			bad = append(bad, err.Error())
		}
		tried[id]++
		isUp := up
		if isUp {
			accepted[id]++
		}
		mu.Unlock()
		if !isUp {
			select { // in flight until the collector dies
			case <-hang:
			case <-r.Context().Done():
			}
			return
		}
	}))
	// Cleanups run last first: the children are killed (startChild), then
	// the hanging handlers end, then the receiver closes.
	t.Cleanup(rcv.Close)
	t.Cleanup(func() { close(hang) })

	dir := t.TempDir()
	ch := startChild(t, dir, "--webhook-allow-private")
	base := "http://" + ch.addr
	status, b := collectortest.Request(t, base, ch.token, "POST", "/v1/webhooks", map[string]any{"url": rcv.URL + "/hook", "events": []string{"business:*"}})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, b)
	}
	var hook struct{ ID, Secret string }
	json.Unmarshal(b, &hook)
	mu.Lock()
	secret = hook.Secret
	mu.Unlock()

	var want []string
	for i := 0; i < 12; i++ {
		e := collectortest.Event("Order", "", map[string]any{"n": i})
		status, b := collectortest.Request(t, base, ch.token, "POST", "/v1/collect", map[string]any{"events": []protocol.Event{e}})
		if status != http.StatusOK {
			t.Fatalf("collect: %d %s", status, b)
		}
		want = append(want, "msg_"+hook.ID+"_"+e.EventID)
	}
	// The worker has a few attempts hanging at the receiver: kill it now.
	waitUntil(t, "attempts in flight", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(tried) >= 2
	})
	ch.cmd.Process.Signal(syscall.SIGKILL)
	ch.cmd.Wait()
	mu.Lock()
	inFlight := len(tried)
	up = true
	mu.Unlock()

	startChild(t, dir, "--webhook-allow-private")
	waitUntil(t, "every delivery after the restart", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted) == len(want)
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d deliveries in flight at SIGKILL", inFlight)
	for _, id := range want {
		if accepted[id] != 1 {
			t.Errorf("%s accepted %d times", id, accepted[id])
		}
	}
	retried := 0
	for id, n := range tried {
		if n > 1 {
			retried++
		}
		if accepted[id] == 0 {
			t.Errorf("unexpected delivery id %s", id)
		}
	}
	if retried < 2 {
		t.Errorf("only %d ids were tried again after the restart: %v", retried, tried)
	}
	if len(bad) > 0 {
		t.Errorf("bad signatures: %v", bad)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// --webhook-allow-private is off by default and reads
// VISITRACK_WEBHOOK_ALLOW_PRIVATE.
func TestWebhookAllowPrivateFlag(t *testing.T) {
	parse := func(env map[string]string, args ...string) (daemon.Config, error) {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(args, func(k string) string { return env[k] })
		return m.Config, err
	}
	for _, c := range []struct {
		env  string
		args []string
		want bool
	}{{"", nil, false}, {"true", nil, true}, {"1", []string{"--webhook-allow-private=false"}, false}, {"", []string{"--webhook-allow-private"}, true}} {
		got, err := parse(map[string]string{"VISITRACK_WEBHOOK_ALLOW_PRIVATE": c.env}, c.args...)
		if err != nil || got.WebhookAllowPrivate != c.want {
			t.Errorf("env %q args %q: %v, %v; want %v", c.env, c.args, got.WebhookAllowPrivate, err, c.want)
		}
	}
	if _, err := parse(map[string]string{"VISITRACK_WEBHOOK_ALLOW_PRIVATE": "maybe"}); err == nil {
		t.Error("VISITRACK_WEBHOOK_ALLOW_PRIVATE=maybe accepted")
	}
}
