package daemon_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestMain lets the test binary run as a collector child process, so the
// crash test can SIGKILL a real collector mid-stream.
func TestMain(m *testing.M) {
	if dir := os.Getenv("VISITRACK_TEST_CHILD_DATA"); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

func runChild(dir string) {
	m := daemon.New(io.Discard, os.Stderr)
	// --rate-limit 0: the test streams up to ~2,700 events from one
	// connection as fast as the collector acknowledges them, past the
	// default burst of 2,000; it is about crashes, not limits.
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--allowed-origins", "*", "--log-level", "error", "--rate-limit", "0"}
	args = append(args, strings.Fields(os.Getenv("VISITRACK_TEST_CHILD_FLAGS"))...)
	if err := m.ParseFlags(args, func(string) string { return "" }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := m.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("ADDR %s %s\n", m.Addr(), m.AdminToken)
	select {} // until killed
}

type child struct {
	cmd   *exec.Cmd
	addr  string
	token string
}

func startChild(t *testing.T, dir string, flags ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "VISITRACK_TEST_CHILD_DATA="+dir, "VISITRACK_TEST_CHILD_FLAGS="+strings.Join(flags, " "))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("child collector did not start: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "ADDR" {
		t.Fatalf("child said %q", line)
	}
	return &child{cmd: cmd, addr: f[1], token: f[2]}
}

// TestCrashLosesNothingAcknowledged: SIGKILL the collector while events
// stream in, restart it on the same SQLite file, resend what was not
// acknowledged: every acknowledged event is there, and none twice.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	ch := startChild(t, dir)
	visitor, visitID := collectortest.NewID(), collectortest.NewID()

	var mu sync.Mutex
	sent := map[string]protocol.Event{}
	acked := map[string]bool{}
	var order []string

	c := collectortest.Dial(t, "ws://"+ch.addr+"/v1/ws", protocol.Hello{VisitorID: visitor, VisitID: visitID})
	key := c.Welcome.VisitorKey // the restarted collector must know this browser
	// Read acks in the background while frames go out back to back.
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			typ, b, err := c.Read()
			if err != nil {
				return
			}
			if typ == protocol.TypeAck {
				var ack protocol.Ack
				json.Unmarshal(b, &ack)
				mu.Lock()
				for _, id := range ack.EventIDs {
					acked[id] = true
				}
				mu.Unlock()
			}
		}
	}()
	// Stream until 500 events are acknowledged, SIGKILL the collector, and
	// keep streaming a little: those frames are lost or unacknowledged.
	killed, after := false, 0
	for frame := 0; after < 20; frame++ {
		batch := make([]protocol.Event, 10)
		mu.Lock()
		for i := range batch {
			batch[i] = collectortest.Event("Stream", "", map[string]any{"frame": frame, "i": i})
			sent[batch[i].EventID] = batch[i]
			order = append(order, batch[i].EventID)
		}
		n, ahead := len(acked), len(sent)-len(acked)
		mu.Unlock()
		if killed {
			after++
		} else if n >= 500 {
			ch.cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		} else if ahead > 2000 {
			time.Sleep(time.Millisecond) // let the acks catch up
		}
		b, _ := json.Marshal(protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Events: batch})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Conn.Write(ctx, websocket.MessageText, b)
		cancel()
		if err != nil {
			break
		}
		if frame > 100_000 {
			t.Fatal("the collector acknowledged too little to kill it mid-stream")
		}
	}
	if !killed {
		t.Fatal("the connection failed before the collector was killed")
	}
	<-readDone
	ch.cmd.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("sent %d events, %d acknowledged before SIGKILL", len(sent), len(acked))

	// Restart on the same file and resend what was not acknowledged, the
	// way the tracker's outbox does.
	ch = startChild(t, dir)
	c = collectortest.Dial(t, "ws://"+ch.addr+"/v1/ws", protocol.Hello{VisitorID: visitor, VisitorKey: key, VisitID: visitID})
	var pending []protocol.Event
	for _, id := range order {
		if !acked[id] {
			pending = append(pending, sent[id])
		}
	}
	for len(pending) > 0 {
		n := min(len(pending), protocol.MaxBatchEvents)
		ack, _ := c.SendEvents(false, pending[:n]...)
		if len(ack.EventIDs) != n {
			t.Fatalf("resend acked %d of %d", len(ack.EventIDs), n)
		}
		pending = pending[n:]
	}

	// Every event is stored exactly once.
	stored := map[string]int{}
	cursor := ""
	for {
		var page struct {
			Items []struct {
				EventID string `json:"eventId"`
			} `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		status, b := collectortest.Request(t, "http://"+ch.addr, ch.token, "GET", "/v1/visits/"+visitID+"/events?limit=1000"+cursor, nil)
		if status != 200 {
			t.Fatalf("events: %d %s", status, b)
		}
		json.Unmarshal(b, &page)
		for _, e := range page.Items {
			stored[e.EventID]++
		}
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
	}
	for id := range acked {
		if stored[id] == 0 {
			t.Errorf("acknowledged event %s was lost", id)
		}
	}
	for id, n := range stored {
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
		if _, ok := sent[id]; !ok {
			t.Errorf("stored event %s was never sent", id)
		}
	}
	if len(stored) != len(sent) {
		t.Errorf("stored %d events, sent %d", len(stored), len(sent))
	}
}
