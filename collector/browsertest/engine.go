package browsertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Engine is one browser engine driven by its own automation protocol:
// Chromium over the DevTools protocol (chromedp), Firefox over WebDriver
// BiDi, WebKitGTK over classic W3C WebDriver. A test written against it
// runs unchanged in all three, so that what the tracker does is checked in
// every engine a visitor may use, not only in the one that is easiest to
// automate.
type Engine interface {
	// Name is the engine's name for subtests and messages.
	Name() string
	// Navigate loads url in the engine's one tab and returns once the page
	// has loaded (the load event; about:blank leaves the site).
	Navigate(ctx context.Context, url string) error
	// Eval evaluates the JavaScript expression expr in the page, awaits it
	// when it is a promise, and returns the value as JSON text
	// (JSON.stringify in the page; undefined becomes null). A thrown error
	// or a rejected promise is an error with the page's message.
	Eval(ctx context.Context, expr string) (string, error)
	// Close ends the browser and every process it started.
	Close() error
}

// EngineOptions are what every engine's start function takes.
type EngineOptions struct {
	// Dir is a fresh directory for the profile and other files.
	Dir string
	// Log receives the browser's and its driver's output (io.Discard to
	// drop it).
	Log io.Writer
}

// StartEngine starts an engine for a test.
type StartEngine func(ctx context.Context, opt EngineOptions) (Engine, error)

// evalScript wraps an expression so that every engine returns the same
// thing: a promise of its JSON text.
func evalScript(expr string) string {
	return "Promise.resolve().then(() => (" + expr + ")).then(v => JSON.stringify(v === undefined ? null : v))"
}

// process is a command started in its own process group, so that Close
// ends the helpers it spawns too (Firefox's content processes, WebKit's
// web and network processes).
type process struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startProcess(name string, cmd *exec.Cmd) (*process, error) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports an early exit of the process as an error, for the waits
// at start: a browser that died is not worth waiting for.
func (p *process) exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%s exited: %v", p.name, p.err)
	default:
		return nil
	}
}

// stop ends the whole process group: SIGTERM, then SIGKILL if it is still
// there after a grace period.
func (p *process) stop() {
	if p == nil {
		return
	}
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children that outlived the leader still belong to the group.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// scanFor copies r to log line by line and sends on found the first
// submatch that match returns; it keeps draining r afterwards so that the
// process never blocks on a full pipe.
func scanFor(r io.Reader, log io.Writer, match func(line string) (string, bool)) <-chan string {
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(log, line)
			if !sent {
				if v, ok := match(line); ok {
					found <- v
					sent = true
				}
			}
		}
		_, _ = io.Copy(log, r)
	}()
	return found
}

// freePort asks the kernel for a free loopback port, for drivers that
// cannot pick one themselves (WebKitWebDriver). Another process could take
// it before the driver binds it; the driver would then fail to start with
// a clear error, not hang.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startXvfb starts a virtual X display for engines that need one and
// returns its DISPLAY value. Xvfb picks a free display number itself
// (-displayfd), so that parallel runs never collide.
func startXvfb(ctx context.Context, log io.Writer) (*process, string, error) {
	path, err := exec.LookPath("Xvfb")
	if err != nil {
		return nil, "", fmt.Errorf("start Xvfb: not installed (make test-browser installs it): %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, "", err
	}
	defer r.Close()
	cmd := exec.Command(path, "-displayfd", "3", "-screen", "0", "1280x800x24", "-nolisten", "tcp")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdout, cmd.Stderr = log, log
	p, err := startProcess("Xvfb", cmd)
	w.Close()
	if err != nil {
		return nil, "", err
	}
	number := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(r).ReadString('\n')
		number <- strings.TrimSpace(line)
	}()
	select {
	case n := <-number:
		if _, err := strconv.Atoi(n); err != nil {
			p.stop()
			return nil, "", fmt.Errorf("start Xvfb: it wrote display %q: %v", n, p.exited())
		}
		return p, ":" + n, nil
	case <-ctx.Done():
		p.stop()
		return nil, "", fmt.Errorf("waiting for Xvfb's display: %w", ctx.Err())
	}
}
