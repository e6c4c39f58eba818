package live

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a log destination the test reads while the cap writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

// TestConnCapRefusals, on a real loopback listener: refusals are logged
// at most once a minute (by the cap's clock), with the count since the
// last line; a refused connection that never sends a request is closed
// after the header timeout, unanswered.
func TestConnCapRefusals(t *testing.T) {
	if NewConnCap(ConnCapConfig{}) != nil {
		t.Fatal("Max 0 must turn the cap off")
	}
	var logs syncBuffer
	var clock sync.Mutex
	now := time.Unix(1_700_000_000, 0)
	cc := NewConnCap(ConnCapConfig{Max: 1, HeaderTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Now:    func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := cc.Listener(raw)
	defer ln.Close()
	accepted := make(chan net.Conn, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	dial := func() net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	waitRefused := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for cc.Refused() != n {
			if time.Now().After(deadline) {
				t.Fatalf("%d refused, want %d", cc.Refused(), n)
			}
			time.Sleep(5 * time.Millisecond) // polling the condition: the accept loop's refusal
		}
	}

	dial()
	held := <-accepted
	if cc.Open() != 1 {
		t.Fatalf("%d open, want 1", cc.Open())
	}
	var silent []net.Conn
	for range 5 {
		silent = append(silent, dial())
	}
	waitRefused(5)
	if l := logs.lines(); len(l) != 1 || !strings.Contains(l[0], "refused=1 ") || !strings.Contains(l[0], "client=127.0.0.1/32") {
		t.Fatalf("after 5 refusals within a minute the log says %q, want one line of the first", l)
	}
	for i, c := range silent {
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, err := c.Read(make([]byte, 1))
		var ne net.Error
		if n != 0 || err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("silent refused connection %d: read %d, %v; want closed after the header timeout", i+1, n, err)
		}
	}

	clock.Lock()
	now = now.Add(time.Minute)
	clock.Unlock()
	dial()
	waitRefused(6)
	if l := logs.lines(); len(l) != 2 || !strings.Contains(l[1], "refused=5 ") {
		t.Fatalf("a minute later the log says %q, want a second line counting 5", l)
	}

	// Closing the held connection frees the slot; closing twice frees it
	// once.
	held.Close()
	held.Close()
	if cc.Open() != 0 {
		t.Fatalf("%d open after the close, want 0", cc.Open())
	}
	dial()
	<-accepted
	dial()
	waitRefused(7)
}
