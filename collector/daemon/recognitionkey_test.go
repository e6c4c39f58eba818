package daemon_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

const keySecret = "recognition-key-test-secret"

// runWithEnv starts a collector in dir with env, until the test ends.
func runWithEnv(t *testing.T, dir string, env map[string]string) *daemon.Main {
	t.Helper()
	m := daemon.New(io.Discard, io.Discard)
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--allowed-origins", collectortest.Origin,
		"--log-level", "warn", "--identity-secret", keySecret}
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("flags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	return m
}

// VISITRACK_RECOGNITION_KEY is the recognition key when set: a collector
// with another data directory and the same variable recognizes the
// tokens the first one issued, and writes no recognition.key of its own.
func TestRecognitionKeyFromEnv(t *testing.T) {
	first := t.TempDir()
	a := runWithEnv(t, first, nil)
	c := collectortest.Dial(t, "ws://"+a.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(),
		map[string]any{"userId": "lin@example.com", "userHash": identity.UserHash(keySecret, "lin@example.com")}))
	if id == nil || id.Recognition == nil || id.IdentityID == nil {
		t.Fatalf("SignIn answered %+v", id)
	}
	c.Conn.CloseNow()
	key, err := os.ReadFile(filepath.Join(first, "recognition.key"))
	if err != nil {
		t.Fatal(err)
	}

	// Another node: a data directory of its own, the key from the
	// environment. (Its database is its own too: the token is verified
	// by its signature, then the identity is looked up, so the second
	// node shares the first's file here.)
	a.Close(context.Background())
	second := t.TempDir()
	if err := os.Link(filepath.Join(first, "visitrack.db"), filepath.Join(second, "visitrack.db")); err != nil {
		t.Fatal(err)
	}
	b := runWithEnv(t, second, map[string]string{"VISITRACK_RECOGNITION_KEY": strings.TrimSpace(string(key))})
	r := collectortest.Dial(t, "ws://"+b.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: id.Recognition})
	if w := r.Welcome; w.State != protocol.StateRecognized || w.IdentityID == nil || *w.IdentityID != *id.IdentityID {
		t.Fatalf("the token is not recognized with the key from the environment: welcome %+v", w)
	}
	if _, err := os.Stat(filepath.Join(second, "recognition.key")); !os.IsNotExist(err) {
		t.Errorf("a collector given VISITRACK_RECOGNITION_KEY wrote a recognition.key (%v)", err)
	}
}

// A value that is not a key stops the start with a message naming the
// variable.
func TestRecognitionKeyFromEnvRefusesBadValues(t *testing.T) {
	for _, bad := range []string{"not hex", "abcd", strings.Repeat("ab", 31)} {
		m := daemon.New(io.Discard, io.Discard)
		err := m.ParseFlags(nil, func(k string) string {
			if k == "VISITRACK_RECOGNITION_KEY" {
				return bad
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "VISITRACK_RECOGNITION_KEY must be at least 32 bytes in hex") {
			t.Errorf("VISITRACK_RECOGNITION_KEY=%q: %v, want a refusal", bad, err)
		}
	}
}
