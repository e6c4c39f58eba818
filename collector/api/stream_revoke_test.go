package api

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/feed"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// TestStreamEndsWhenTokenRevoked (docs/security.md#api-token): a stream whose token is
// revoked ends with a reset within the recheck interval; a stream of
// another, live token goes on.
func TestStreamEndsWhenTokenRevoked(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	hub := feed.New(feed.Options{})
	t.Cleanup(hub.Close)
	h := New(Config{History: s, Tokens: s})
	h.HandleStream(hub, StreamOptions{KeepAlive: time.Hour, Recheck: 50 * time.Millisecond})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	doomed, doomedSecret, err := s.CreateToken(ctx, []string{collector.ScopeHistoryRead})
	if err != nil {
		t.Fatal(err)
	}
	_, liveSecret, err := s.CreateToken(ctx, []string{collector.ScopeHistoryRead})
	if err != nil {
		t.Fatal(err)
	}
	doomedLines := openRawStream(t, srv.URL, doomedSecret)
	liveLines := openRawStream(t, srv.URL, liveSecret)
	waitLine(t, doomedLines, ": connected")
	waitLine(t, liveLines, ": connected")

	if err := s.RevokeToken(ctx, doomed.TokenID); err != nil {
		t.Fatal(err)
	}
	waitLine(t, doomedLines, "event: reset")
	waitLine(t, doomedLines, `data: "token revoked"`)
	waitEnd(t, doomedLines)

	// The live token's stream still carries events.
	hub.PublishEvents([]*collector.Event{{EventID: "01JD0500000000000000000001", Name: "Checkout", Category: "business"}})
	waitLine(t, liveLines, "event: event")
}

// openRawStream opens GET /v1/stream with secret and returns its lines;
// the channel is closed when the stream ends.
func openRawStream(t *testing.T, base, secret string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("stream: %d", res.StatusCode)
	}
	lines := make(chan string, 1000)
	go func() {
		defer res.Body.Close()
		defer close(lines)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return lines
}

// waitLine reads lines until want; it fails when the stream ends first or
// nothing matches within a generous timeout.
func waitLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stream ended before %q; saw %q", want, seen)
			}
			if l == want {
				return
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("no %q within 20 s; saw %q", want, strings.Join(seen, "|"))
		}
	}
}

// waitEnd waits for the stream to end: after its reset, only the blank
// line that closes the reset may come.
func waitEnd(t *testing.T, lines <-chan string) {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return
			}
			if l != "" {
				t.Fatalf("the stream went on after its reset: %q", l)
			}
		case <-timeout:
			t.Fatal("the stream did not end within 20 s of its reset")
		}
	}
}
