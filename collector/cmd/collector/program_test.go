package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The promises here are about the program, not a package: the files it
// writes, what it keeps across restarts, how it answers signals and where
// it serves profiles. So the tests build the real binary and run it as an
// operator does.

// wait is the wall-clock bound of every wait here: generous, for a loaded
// two-core machine; nothing is judged by how long it took.
const wait = 90 * time.Second

// TestProgram builds bin/collector once and runs each promise against it.
func TestProgram(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "collector")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Run("KeyFilesArePrivate", func(t *testing.T) { testKeyFilesArePrivate(t, bin) })
	t.Run("RecognitionKeyKeptAcrossRestarts", func(t *testing.T) { testRecognitionKeyKept(t, bin) })
	t.Run("SIGTERMIsGraceful", func(t *testing.T) { testSIGTERMIsGraceful(t, bin) })
	t.Run("SecondSignalExitsAtOnce", func(t *testing.T) { testSecondSignal(t, bin) })
	t.Run("DebugAddrServesPprofOnlyThere", func(t *testing.T) { testDebugAddr(t, bin) })
}

// proc is a running collector binary.
type proc struct {
	t       *testing.T
	cmd     *exec.Cmd
	dataDir string
	addr    string // host:port of the public listener
	lines   chan string
	mu      sync.Mutex
	log     strings.Builder
	exited  chan struct{}
	waitErr error
}

var listeningRE = regexp.MustCompile(`msg="collector listening" addr=http://(\S+)`)

// startProc runs the binary on a free port in dataDir, with a real
// allowed origin, and returns once it listens.
func startProc(t *testing.T, bin, dataDir string, flags ...string) *proc {
	t.Helper()
	args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir,
		"--allowed-origins", collectortest.Origin, "--log-level", "info", "--identity-secret", programSecret}, flags...)
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VISITRACK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	p := &proc{t: t, cmd: cmd, dataDir: dataDir, lines: make(chan string, 1000), exited: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			select {
			case p.lines <- sc.Text():
			default: // nobody waits for lines this late
			}
		}
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			cmd.Process.Kill()
			<-p.exited
		}
	})
	m := p.waitLine(listeningRE)
	p.addr = m[1]
	return p
}

// waitLine returns the submatches of the first log line from now on that
// matches re.
func (p *proc) waitLine(re *regexp.Regexp) []string {
	p.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case l := <-p.lines:
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		case <-p.exited:
			p.t.Fatalf("the collector exited (%v) before logging %s; its log:\n%s", p.waitErr, re, p.logText())
		case <-timeout:
			p.t.Fatalf("no log line %s within %s; the log:\n%s", re, wait, p.logText())
		}
	}
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("signal %v: %v", sig, err)
	}
}

// exitCode waits for the process to end and returns its exit status.
func (p *proc) exitCode() int {
	p.t.Helper()
	select {
	case <-p.exited:
	case <-time.After(wait):
		p.t.Fatalf("the collector did not exit within %s; its log:\n%s", wait, p.logText())
	}
	var ee *exec.ExitError
	if errors.As(p.waitErr, &ee) {
		return ee.ExitCode()
	}
	if p.waitErr != nil {
		p.t.Fatalf("wait: %v", p.waitErr)
	}
	return 0
}

// stop ends the process with SIGTERM and requires a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.signal(syscall.SIGTERM)
	if code := p.exitCode(); code != 0 {
		p.t.Fatalf("exit status %d after SIGTERM; the log:\n%s", code, p.logText())
	}
}

func (p *proc) wsURL() string { return "ws://" + p.addr + "/v1/ws" }

// signIn signs a new visitor in and returns the recognition token and the
// identity it names.
// programSecret is the identity secret of the collectors these tests run:
// sign-ins prove themselves with it.
const programSecret = "program-test-identity-secret"

func signIn(t *testing.T, p *proc, user string) (token, identityID string) {
	t.Helper()
	c := collectortest.Dial(t, p.wsURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	defer c.Conn.CloseNow()
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(), map[string]any{"userId": user, "userHash": identity.UserHash(programSecret, user)}))
	if id.Recognition == nil || id.IdentityID == nil {
		t.Fatalf("SignIn answered %+v, want a recognition token", id)
	}
	return *id.Recognition, *id.IdentityID
}

func testKeyFilesArePrivate(t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "data") // the collector creates it
	p := startProc(t, bin, dir)
	for _, name := range []string{"recognition.key", "admin.token"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %v, want -rw-------", name, perm)
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("data directory has mode %v: others may read it", perm)
	}
	// SIGINT (Ctrl-C) shuts down as cleanly as SIGTERM.
	p.signal(syscall.SIGINT)
	if code := p.exitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGINT; the log:\n%s", code, p.logText())
	}
}

// testRecognitionKeyKept: a token issued before a restart still recognizes
// its visitor after it, because recognition.key is read back, not made
// anew.
func testRecognitionKeyKept(t *testing.T, bin string) {
	dir := t.TempDir()
	p := startProc(t, bin, dir)
	token, identityID := signIn(t, p, "grace@example.com")
	key, err := os.ReadFile(filepath.Join(dir, "recognition.key"))
	if err != nil {
		t.Fatal(err)
	}
	p.stop()

	p = startProc(t, bin, dir)
	if again, err := os.ReadFile(filepath.Join(dir, "recognition.key")); err != nil || string(again) != string(key) {
		t.Fatalf("recognition.key changed across a restart (err %v)", err)
	}
	c := collectortest.Dial(t, p.wsURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &token})
	w := c.Welcome
	if w.State != protocol.StateRecognized || w.IdentityID == nil || *w.IdentityID != identityID {
		t.Fatalf("after a restart the token is not recognized: welcome %+v, want identity %s", w, identityID)
	}
	c.Conn.CloseNow()
	p.stop()
}

// testSIGTERMIsGraceful: on SIGTERM the collector closes WebSockets with
// 1001, finishes a request that was in flight and commits its events, then
// exits 0.
func testSIGTERMIsGraceful(t *testing.T, bin string) {
	dir := t.TempDir()
	p := startProc(t, bin, dir)
	c := collectortest.Dial(t, p.wsURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	before := collectortest.Event("BeforeSignal", collectortest.NewID(), nil)
	if ack, _ := c.SendEvents(false, before); len(ack.EventIDs) != 1 {
		t.Fatalf("ack %+v", ack)
	}

	// A /v1/collect request in flight: the server is reading its body
	// when the signal comes; the body follows after.
	inflight := collectortest.Event("InFlight", collectortest.NewID(), nil)
	body, _ := json.Marshal(protocol.CollectRequest{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Events: []protocol.Event{inflight}})
	conn, answer := rawRequest(t, p.addr, len(body))
	p.signal(syscall.SIGTERM)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	_, _, err := c.Conn.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusGoingAway {
		t.Fatalf("WebSocket after SIGTERM: %v (close status %d), want 1001 going away", err, got)
	}
	// Wait until the listener is closed: the HTTP server's shutdown has
	// begun, and it must let the request in flight finish. Then finish it.
	waitRefused(t, p.addr)
	if _, err := conn.Write(body); err != nil {
		t.Fatalf("finishing the request in flight: %v", err)
	}
	res, err := http.ReadResponse(answer, nil)
	if err != nil {
		t.Fatalf("the request in flight at SIGTERM got no answer: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(b), inflight.EventID) {
		t.Fatalf("request in flight at SIGTERM: %d %s, want 200 acknowledging %s", res.StatusCode, b, inflight.EventID)
	}
	if code := p.exitCode(); code != 0 {
		t.Fatalf("exit status %d after SIGTERM; the log:\n%s", code, p.logText())
	}

	s, closeStore, err := daemon.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	for _, id := range []string{before.EventID, inflight.EventID} {
		var n int
		if err := s.DB().QueryRow(`SELECT count(*) FROM events WHERE event_id = ?`, id).Scan(&n); err != nil || n != 1 {
			t.Errorf("acknowledged event %s: %d rows after the shutdown (%v)", id, n, err)
		}
	}
}

// testSecondSignal: while the first signal's shutdown waits for a request
// that does not finish, a second signal ends the process at once, with
// status 2.
func testSecondSignal(t *testing.T, bin string) {
	p := startProc(t, bin, t.TempDir())
	rawRequest(t, p.addr, 1<<10) // and never the body
	p.signal(syscall.SIGTERM)
	p.waitLine(regexp.MustCompile(`shutting down`))
	p.signal(syscall.SIGINT)
	if code := p.exitCode(); code != 2 {
		t.Fatalf("exit status %d after a second signal, want 2; the log:\n%s", code, p.logText())
	}
}

// testDebugAddr: --debug-addr serves pprof on its own listener, and the
// public listener serves no profile, with or without it.
func testDebugAddr(t *testing.T, bin string) {
	get := func(url string) (int, string) {
		t.Helper()
		res, err := http.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	isPprof := func(status int, body string) bool {
		return status == http.StatusOK && strings.Contains(body, "goroutine") && strings.Contains(body, "heap")
	}

	plain := startProc(t, bin, t.TempDir())
	if status, body := get("http://" + plain.addr + "/debug/pprof/"); isPprof(status, body) {
		t.Error("the public listener serves pprof without --debug-addr")
	}
	plain.stop()

	p := startProc(t, bin, t.TempDir(), "--debug-addr", "127.0.0.1:0")
	// The debug listener opens, and says where, before the public one.
	m := regexp.MustCompile(`msg=pprof addr=(http://\S+)/debug/pprof/`).FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("no pprof address in the log:\n%s", p.logText())
	}
	debug := m[1]
	if debug == "http://"+p.addr {
		t.Fatalf("debug and public listeners share %s", p.addr)
	}
	if status, body := get(debug + "/debug/pprof/"); !isPprof(status, body) {
		t.Errorf("--debug-addr: GET /debug/pprof/ = %d %.200s, want the pprof index", status, body)
	}
	if status, body := get("http://" + p.addr + "/debug/pprof/"); isPprof(status, body) {
		t.Error("the public listener serves pprof with --debug-addr set")
	}
	if status, body := get("http://" + p.addr + "/debug/pprof/heap"); status == http.StatusOK {
		t.Errorf("the public listener serves a heap profile: %.100s", body)
	}
	if status, _ := get(debug + "/v1/visits"); status != http.StatusNotFound {
		t.Errorf("the debug listener serves the API: GET /v1/visits = %d", status)
	}
	p.stop()
}

// rawRequest opens a connection to addr, sends the headers of a POST
// /v1/collect of contentLength bytes with Expect: 100-continue, and waits
// for the 100 Continue that the server sends when the handler starts
// reading the body: from then on the request is in flight on the server
// (and no sleep had to guess when). The connection closes when the test
// ends.
func rawRequest(t *testing.T, addr string, contentLength int) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, wait)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(wait))
	head := fmt.Sprintf("POST /v1/collect HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, contentLength)
	if _, err := conn.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(conn)
	status, err := r.ReadString('\n')
	if err != nil || !strings.HasPrefix(status, "HTTP/1.1 100 ") {
		t.Fatalf("waiting for 100 Continue: %q %v", status, err)
	}
	if blank, err := r.ReadString('\n'); err != nil || blank != "\r\n" {
		t.Fatalf("after 100 Continue: %q %v", blank, err)
	}
	return conn, r
}

// waitRefused waits until addr refuses connections.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		c, err := net.DialTimeout("tcp", addr, wait)
		if err != nil {
			return
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections after %s", addr, wait)
		}
		time.Sleep(10 * time.Millisecond) // a poll interval, not a guess
	}
}
