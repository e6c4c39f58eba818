package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/web"
)

// syncBuffer is the collector's log, read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// run starts the collector as the binary does, with the web files, and
// returns it with its log.
func run(t *testing.T, env map[string]string, args ...string) (*daemon.Main, *syncBuffer) {
	t.Helper()
	log := &syncBuffer{}
	m := daemon.New(&bytes.Buffer{}, log)
	args = append([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--allowed-origins", "*"}, args...)
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	m.Static = web.Handler()
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m, log
}

const noSecretWarning = "sign-ins cannot be verified"

// TestNoSecretWarnsOnce: without --identity-secret the collector says so,
// once, at start; with one it does not.
func TestNoSecretWarnsOnce(t *testing.T) {
	m, log := run(t, nil)
	// Traffic does not repeat the warning.
	collectortest.Request(t, m.URL(), "", "POST", "/v1/collect", map[string]any{"events": []protocol.Event{
		collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada"})}})
	if n := strings.Count(log.String(), noSecretWarning); n != 1 {
		t.Fatalf("the warning appears %d times, want once:\n%s", n, log)
	}
	_, log = run(t, nil, "--identity-secret", "s3cret-s3cret")
	if strings.Contains(log.String(), noSecretWarning) {
		t.Fatalf("warned with a secret set:\n%s", log)
	}
}

// TestDemoOnlyWithFlag: the demo shop and its signer, which makes proofs
// for anyone, exist only with --demo (or VISITRACK_DEMO); with it, the
// signer's proof makes a verified SignIn.
func TestDemoOnlyWithFlag(t *testing.T) {
	login := func(m *daemon.Main) (int, []byte) {
		return collectortest.Request(t, m.URL(), "", "POST", "/demo/api/login", map[string]string{"userId": "ada@example.com"})
	}
	plain, _ := run(t, nil, "--identity-secret", "s3cret-s3cret")
	for _, p := range []string{"/demo/", "/demo/login.html"} {
		if status, _ := collectortest.Request(t, plain.URL(), "", "GET", p, nil); status != http.StatusNotFound {
			t.Errorf("GET %s without --demo: %d, want 404", p, status)
		}
	}
	if status, b := login(plain); status != http.StatusNotFound {
		t.Fatalf("the signer without --demo: %d %s, want 404", status, b)
	}
	if status, _ := collectortest.Request(t, plain.URL(), "", "GET", "/console/", nil); status != http.StatusOK {
		t.Fatalf("GET /console/ without --demo: %d: only the demo goes", status)
	}

	for name, start := range map[string]func() (*daemon.Main, *syncBuffer){
		"--demo":           func() (*daemon.Main, *syncBuffer) { return run(t, nil, "--demo") },
		"VISITRACK_DEMO=1": func() (*daemon.Main, *syncBuffer) { return run(t, map[string]string{"VISITRACK_DEMO": "1"}) },
	} {
		demo, log := start()
		if strings.Contains(log.String(), noSecretWarning) || !strings.Contains(log.String(), "random identity secret") {
			t.Fatalf("%s without a secret: log should tell of a random secret and not warn:\n%s", name, log)
		}
		if status, _ := collectortest.Request(t, demo.URL(), "", "GET", "/demo/", nil); status != http.StatusOK {
			t.Fatalf("%s: GET /demo/: %d", name, status)
		}
		status, b := login(demo)
		var proof struct{ UserID, UserHash, SignInToken string }
		if status != http.StatusOK || json.Unmarshal(b, &proof) != nil || proof.SignInToken == "" || proof.UserHash == "" {
			t.Fatalf("%s: the signer answered %d %s, want a userHash and a signInToken", name, status, b)
		}
		for kind, data := range map[string]map[string]any{
			"signInToken": {"userId": "ada@example.com", "signInToken": proof.SignInToken},
			"userHash":    {"userId": "ada@example.com", "userHash": proof.UserHash},
		} {
			status, b = collectortest.Request(t, demo.URL(), "", "POST", "/v1/collect", map[string]any{"events": []protocol.Event{
				collectortest.Event(protocol.EventSignIn, "", data)}})
			var res protocol.CollectResponse
			if status != http.StatusOK || json.Unmarshal(b, &res) != nil || res.Identity == nil || !res.Identity.Verified {
				t.Fatalf("%s: SignIn with the demo's %s: %d %s, want verified", name, kind, status, b)
			}
		}
	}
}
