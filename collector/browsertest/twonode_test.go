//go:build browser

package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/collectortest/rrproxy"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/web"
)

// nodeEnv, set in a child of the test binary, carries a collector's
// flags: TestMain then runs that collector as its own process instead of
// the tests, so that a test can SIGKILL it.
const nodeEnv = "VISITRACK_BROWSERTEST_NODE_FLAGS"

// What the nodes of one database share (docs/deployment-push.md): the
// recognition key and the admin token, from the environment.
const (
	sharedKey   = "8c2e4a6f0b1d3e5a7c9f2b4d6e8a0c1f3b5d7e9a2c4f6b8d0e1a3c5f7b9d2e4a"
	sharedAdmin = "vt_browsertest-shared-admin-token-0123456789"
)

// runNode is the child process: a collector as the binary runs it (the
// embedded web files included), until it is killed.
func runNode() {
	m := daemon.New(io.Discard, os.Stderr)
	m.Static = web.Handler()
	if err := m.ParseFlags(strings.Fields(os.Getenv(nodeEnv)), os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "node flags:", err)
		os.Exit(2)
	}
	if err := m.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING %s\n", m.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, os.Interrupt)
	<-stop
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m.Close(ctx)
	os.Exit(0)
}

// node is a collector process started by startNode.
type node struct {
	cmd    *exec.Cmd
	url    string
	exited chan struct{}
}

// startNode runs a collector process on addr with the flags, sharing the
// key and admin token, and waits until it listens. It is stopped when the
// test ends, and dies with the test binary.
func startNode(t *testing.T, addr string, flags ...string) *node {
	t.Helper()
	args := append([]string{"--addr", addr, "--data-dir", t.TempDir(), "--log-level", "error", "--demo"}, flags...)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+strings.Join(args, " "),
		"VISITRACK_RECOGNITION_KEY="+sharedKey, "VISITRACK_ADMIN_TOKEN="+sharedAdmin)
	cmd.Stderr = logWriter{t}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start a collector process: %v", err)
	}
	n := &node{cmd: cmd, url: "http://" + addr, exited: make(chan struct{})}
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(out).ReadString('\n')
		line <- s
		io.Copy(io.Discard, out)
	}()
	go func() { cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-n.exited
		}
	})
	select {
	case s := <-line:
		if !strings.HasPrefix(s, "LISTENING ") {
			t.Fatalf("collector process on %s did not start: %q", addr, s)
		}
	case <-time.After(time.Minute):
		t.Fatalf("collector process on %s: no start within a minute", addr)
	}
	return n
}

// kill SIGKILLs the node and waits until it is gone.
func (n *node) kill(t *testing.T) {
	t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL: %v", err)
	}
	<-n.exited
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Two collector processes on one PostgreSQL database behind a round-robin
// proxy, the page and its tracker served through the proxy: the node
// holding the tracker's WebSocket is SIGKILLed while the page keeps
// making events. The tracker reconnects through the proxy to the other
// node, and every event it counted as acknowledged is stored once: none
// lost, none twice.
func TestSIGKILLedNodeTwoNodesPostgres(t *testing.T) {
	database := pgtest.NewDatabase(t)
	addrs := []string{freeAddr(t), freeAddr(t)}
	proxy, err := rrproxy.Start("http://"+addrs[0], "http://"+addrs[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	// The nodes start one after the other: the first migrates the schema.
	var nodes []*node
	for _, addr := range addrs {
		nodes = append(nodes, startNode(t, addr, "--database", database, "--allowed-origins", proxy.URL(), "--rate-limit", "0"))
	}

	tab := newBrowser(t)
	open(t, tab, proxy.URL()+"/demo/")
	first := connected(t, tab)
	holder := socketHolder(t, proxy)

	// The page makes an event every 50 ms, numbered, 80 in all; the first
	// ones are acknowledged by the holder before it is killed.
	const total = 80
	eval(t, tab, fmt.Sprintf(`(() => { let n = 0; window.beats = setInterval(() => {
		_gt.push(['event', 'Beat', {data: {n: n}}]);
		if (++n === %d) { clearInterval(window.beats); window.beatsDone = true; } }, 50); return true; })()`, total), new(bool))
	waitFor(t, "events acknowledged before the kill", func() bool {
		var l list[collector.Event]
		getVia(t, proxy.URL(), "/v1/events?name=Beat&limit=1000", &l)
		return len(l.Items) >= 15
	})
	nodes[holder].kill(t)
	t.Logf("SIGKILLed node %d, which held the WebSocket", holder)

	waitPage(t, tab, "every event made", `window.beatsDone === true`)
	waitPage(t, tab, "every event acknowledged over a WebSocket again",
		`visitrack.stats().then(s => s.queued === 0 && s.transport === 'websocket')`)
	var st struct {
		Queued, Dropped int
		Transport       string
	}
	eval(t, tab, `visitrack.stats()`, &st)
	if st.Queued != 0 || st.Dropped != 0 {
		t.Fatalf("tracker stats after the reconnect: %+v, want nothing queued or dropped", st)
	}
	if other := 1 - holder; proxy.Sockets(other) != 1 || proxy.Sockets(holder) != 0 {
		t.Fatalf("sockets after the kill: node %d holds %d, the killed node %d, want 1 and 0",
			other, proxy.Sockets(other), proxy.Sockets(holder))
	}

	var l list[collector.Event]
	getVia(t, proxy.URL(), "/v1/events?name=Beat&limit=1000", &l)
	seenID := map[string]bool{}
	seenN := map[int]int{}
	for _, e := range l.Items {
		if seenID[e.EventID] {
			t.Errorf("event %s stored twice", e.EventID)
		}
		seenID[e.EventID] = true
		var d struct{ N *int }
		if err := json.Unmarshal(e.Data, &d); err != nil || d.N == nil {
			t.Fatalf("event %s: data %s", e.EventID, e.Data)
		}
		seenN[*d.N]++
	}
	for n := range total {
		if seenN[n] != 1 {
			t.Errorf("Beat %d stored %d times, want once", n, seenN[n])
		}
	}
	if len(l.Items) != total {
		t.Errorf("%d Beat events stored, want %d", len(l.Items), total)
	}
	if again := pageIDs(t, tab); again.VisitorID != first.VisitorID {
		t.Errorf("the visitor changed over the kill: %+v, was %+v", again, first)
	}
}

// socketHolder waits until exactly one node holds a WebSocket through
// the proxy (the tracker's) and returns its index.
func socketHolder(t *testing.T, proxy *rrproxy.Proxy) int {
	t.Helper()
	holder := -1
	waitFor(t, "the tracker's WebSocket on one node", func() bool {
		a, b := proxy.Sockets(0), proxy.Sockets(1)
		switch {
		case a == 1 && b == 0:
			holder = 0
		case a == 0 && b == 1:
			holder = 1
		}
		return holder >= 0
	})
	return holder
}

// getVia decodes a 200 answer of the History API at base.
func getVia(t *testing.T, base, path string, v any) {
	t.Helper()
	status, body := collectortest.Request(t, base, sharedAdmin, "GET", path, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}
