package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// lockedBuffer is the collector's log, written by its goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns the log lines that contain s.
func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// smallFS mounts a tmpfs of size bytes and unmounts it when the test
// ends. CI runs as root; elsewhere the test fails, saying why.
func smallFS(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("this test needs root to mount a %s tmpfs on %s (run it as root, as CI does): %v: %s", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the filesystem is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break
		}
	}
	for { // the last partial pages
		if _, err := f.Write(chunk[:512]); err != nil {
			return
		}
	}
}

type collectAnswer struct {
	status     int
	retryAfter string
	code       string
	acked      []string
}

// testVisitorKey is the browser key every collect of these tests presents:
// a browser's first contact under ids it made up keeps the key it brings,
// so that all its requests are one visitor and visit.
const testVisitorKey = "daemon-test-visitor-key-0123456789"

// collect posts n events of about 2 KB each to /v1/collect.
func collect(t *testing.T, url, visitor, visit string, n int) collectAnswer {
	t.Helper()
	events := make([]protocol.Event, n)
	for i := range events {
		events[i] = collectortest.Event("Filler", "", map[string]any{"pad": strings.Repeat("x", 2000)})
	}
	body, _ := json.Marshal(protocol.CollectRequest{VisitorID: visitor, VisitID: visit, VisitorKey: testVisitorKey, Events: events})
	resp, err := http.Post(url+"/v1/collect", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("collect: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := collectAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if resp.StatusCode == 200 {
		var out protocol.CollectResponse
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("collect answer %s: %v", b, err)
		}
		a.acked = out.Ack.EventIDs
	} else {
		var p struct{ Code string }
		json.Unmarshal(b, &p)
		a.code = p.Code
	}
	return a
}

// TestDiskFull: on a full disk /v1/collect answers 503 with Retry-After,
// a WebSocket frame is not acknowledged and the socket closes with 1013,
// the log says so at most once per 10 s; once space returns, ingest
// resumes by itself, and every acknowledged event is stored.
func TestDiskFull(t *testing.T) {
	dir := smallFS(t, "12m")
	var log lockedBuffer
	m := daemon.New(io.Discard, &log)
	if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"),
		"--allowed-origins", "*", "--rate-limit", "0"}, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		m.Close(ctx)
	})
	url := m.URL()
	visitor, visit := collectortest.NewID(), collectortest.NewID()
	acked := map[string]bool{}
	ack := func(a collectAnswer) {
		for _, id := range a.acked {
			acked[id] = true
		}
	}
	if a := collect(t, url, visitor, visit, 10); a.status != 200 || len(a.acked) != 10 {
		t.Fatalf("before the disk filled: %+v", a)
	} else {
		ack(a)
	}
	ws := collectortest.Dial(t, "ws://"+m.Addr()+"/v1/ws", protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})

	// Fill the disk, then send until the collector runs out of room in
	// the pages SQLite already had.
	ballast := filepath.Join(dir, "ballast")
	fill(t, ballast)
	var full collectAnswer
	for i := 0; ; i++ {
		a := collect(t, url, visitor, visit, 20)
		ack(a)
		if a.status != 200 {
			full = a
			break
		}
		if i > 2000 {
			t.Fatal("the collector kept acknowledging on a full disk")
		}
	}
	if full.status != 503 || full.code != "storage_full" || full.retryAfter != "10" {
		t.Fatalf("on a full disk: %d, code %q, Retry-After %q; want 503 storage_full with Retry-After 10", full.status, full.code, full.retryAfter)
	}

	// A WebSocket frame: no ack, close 1013. (The collector may find a
	// little room again, e.g. by truncating its log; what it acknowledges
	// then must be stored too.)
	closed := false
	for i := 0; i < 100 && !closed; i++ {
		frame := collectortest.Event("Filler", "", map[string]any{"pad": strings.Repeat("y", 2000)})
		ws.Send(protocol.Events{Type: protocol.TypeEvents, Events: []protocol.Event{frame}})
		for {
			typ, b, err := ws.Read()
			if err != nil {
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.StatusTryAgainLater {
					t.Fatalf("socket ended with %v; want close 1013", err)
				}
				closed = true
				break
			}
			if typ == protocol.TypeAck {
				var a protocol.Ack
				json.Unmarshal(b, &a)
				ack(collectAnswer{acked: a.EventIDs})
				break
			}
		}
	}
	if !closed {
		t.Fatal("100 frames were acknowledged on a full disk")
	}

	// A new socket's hello opens a visit: it is closed with 1013 too.
	helloRefused := false
	for i := 0; i < 100 && !helloRefused; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := websocket.Dial(ctx, "ws://"+m.Addr()+"/v1/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		hello, _ := json.Marshal(protocol.Hello{Type: protocol.TypeHello, VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
		c.Write(ctx, websocket.MessageText, hello)
		_, _, err = c.Read(ctx)
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.StatusTryAgainLater {
				t.Fatalf("hello on a full disk: close %v; want 1013", ce.Code)
			}
			helloRefused = true
		}
		c.CloseNow()
		cancel()
	}
	if !helloRefused {
		t.Fatal("100 hellos were welcomed on a full disk")
	}

	// A backend's REST write: 503 storage_full with Retry-After too, and
	// not an internal error logged for each.
	patches := 0
	for i := range 50 {
		req, _ := http.NewRequest("PATCH", url+"/v1/visitors/"+visitor+"/visitor-data/crm",
			strings.NewReader(fmt.Sprintf(`{"note":%q,"i":%d}`, strings.Repeat("z", 4000), i)))
		req.Header.Set("Authorization", "Bearer "+m.AdminToken)
		req.Header.Set("Content-Type", "application/merge-patch+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == 200 {
			continue // a write that found a little room
		}
		var p struct{ Code string }
		json.Unmarshal(b, &p)
		if resp.StatusCode != 503 || p.Code != "storage_full" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("REST write on a full disk: %d %s (Retry-After %q); want 503 storage_full", resp.StatusCode, b, resp.Header.Get("Retry-After"))
		}
		patches++
	}
	if patches == 0 {
		t.Fatal("50 REST writes succeeded on a full disk")
	}
	if n := log.count("api: internal error"); n != 0 {
		t.Fatalf("%d REST writes on a full disk were logged as internal errors", n)
	}

	// Many failures, few lines: at most one per 10 s (plus the first).
	start := time.Now()
	failures := 1
	for range 200 {
		a := collect(t, url, visitor, visit, 5)
		ack(a)
		if a.status == 503 {
			failures++
		}
	}
	lines := log.count("disk full")
	if max := 1 + int(time.Since(start)/(10*time.Second)) + 1; lines < 1 || lines > max {
		t.Fatalf("%d failed requests logged %d disk-full lines; want 1 to %d:\n%s", failures, lines, max, log.b.String())
	}
	if failures < 100 {
		t.Fatalf("only %d of 200 requests failed on a full disk", failures)
	}

	// Space returns: ingest resumes by itself.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := collect(t, url, visitor, visit, 10)
		ack(a)
		if a.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not resume once space returned: %+v", a)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// One line when space returned; one more each time a commit found a
	// little room between two full ones (each after a disk-full line,
	// which comes at most once per 10 s).
	if n := log.count("ingest resumed"); n < 1 || n > log.count("disk full") {
		t.Errorf("%d lines say ingest resumed, after %d disk-full lines:\n%s", n, log.count("disk full"), log.b.String())
	}

	// Every acknowledged event is stored.
	// The socket's events belong to its own visit.
	stored := listEvents(t, url, m.AdminToken, visit)
	for id := range listEvents(t, url, m.AdminToken, ws.Welcome.VisitID) {
		stored[id] = true
	}
	missing := 0
	for id := range acked {
		if !stored[id] {
			missing++
		}
	}
	if len(acked) < 20 || missing > 0 {
		t.Fatalf("%d of %d acknowledged events are missing", missing, len(acked))
	}
	t.Logf("%d events acknowledged and stored; %d requests refused with 503, %d disk-full log lines", len(acked), failures, lines)
}
