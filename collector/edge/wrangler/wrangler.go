// Package wrangler runs Cloudflare's wrangler for tests and benchmarks:
// it applies D1 migrations to a local state folder and serves the edge
// build with `wrangler dev`, offline, in a process group of its own that
// Stop ends whole (killing wrangler alone would leave workerd running).
//
// It expects the wrangler of package-lock.json in <Dir>/node_modules
// (`make edge-deps`) and a built worker in <Dir>/build (`make edge-build`).
package wrangler

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// offlineEnv keeps wrangler from calling home: no metrics, no fetching of
// Cloudflare's request metadata, no prompts.
var offlineEnv = []string{
	"WRANGLER_SEND_METRICS=false",
	"CLOUDFLARE_CF_FETCH_ENABLED=false",
	"CI=1",
}

// Binding is the D1 binding name in wrangler.jsonc.
const Binding = "DB"

// bin returns the path of the pinned wrangler in dir, or an error that says
// how to install it.
func bin(dir string) (string, error) {
	p, err := filepath.Abs(filepath.Join(dir, "node_modules", ".bin", "wrangler"))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("wrangler not installed in %s (run `make edge-deps`): %w", dir, err)
	}
	return p, nil
}

func command(ctx context.Context, dir string, args ...string) (*exec.Cmd, error) {
	w, err := bin(dir)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, w, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), offlineEnv...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	return cmd, nil
}

// Migrate applies the migrations of wrangler.jsonc's migrations_dir to the
// local D1 state in stateDir.
func Migrate(ctx context.Context, dir, stateDir string) error {
	cmd, err := command(ctx, dir, "d1", "migrations", "apply", Binding, "--local", "--persist-to", stateDir)
	if err != nil {
		return fmt.Errorf("d1 migrations apply: %w", err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("d1 migrations apply: %w\n%s", err, out)
	}
	return nil
}

// Execute runs SQL on the local D1 state in stateDir, while no `wrangler
// dev` serves it (tests use it to seed rows before starting).
func Execute(ctx context.Context, dir, stateDir, sql string) error {
	cmd, err := command(ctx, dir, "d1", "execute", Binding, "--local", "--persist-to", stateDir, "--command", sql)
	if err != nil {
		return fmt.Errorf("d1 execute: %w", err)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("d1 execute: %w\n%s", err, out)
	}
	return nil
}

// DeployDryRun bundles the worker as `wrangler deploy` would and returns the
// gzip size wrangler reports, in bytes.
func DeployDryRun(ctx context.Context, dir string) (int64, error) {
	outDir, err := os.MkdirTemp("", "visitrack-edge-dryrun-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(outDir)
	cmd, err := command(ctx, dir, "deploy", "--dry-run", "--outdir", outDir)
	if err != nil {
		return 0, fmt.Errorf("deploy --dry-run: %w", err)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("deploy --dry-run: %w\n%s", err, out)
	}
	return ParseGzipSize(string(out))
}

// ParseGzipSize reads the "Total Upload: 5572.34 KiB / gzip: 1588.98 KiB"
// line of `wrangler deploy --dry-run`.
func ParseGzipSize(out string) (int64, error) {
	for line := range strings.SplitSeq(out, "\n") {
		_, after, ok := strings.Cut(line, "gzip:")
		if !ok || !strings.Contains(line, "Total Upload") {
			continue
		}
		f := strings.Fields(after)
		if len(f) < 2 {
			break
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			break
		}
		unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20}[f[1]]
		if unit == 0 {
			break
		}
		return int64(v * unit), nil
	}
	return 0, fmt.Errorf("no gzip size in wrangler's output:\n%s", out)
}

// Options configure Start.
type Options struct {
	// Dir holds wrangler.jsonc, node_modules and build/.
	Dir string
	// StateDir is the --persist-to folder with the local D1 state.
	StateDir string
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Vars reach the worker as environment (secrets and variables); they
	// override wrangler.jsonc's vars.
	Vars map[string]string
	// Log receives wrangler's output; nil keeps it only for error reports.
	Log io.Writer
	// ReadyPath is requested until Ready accepts the answer's status;
	// "/healthz" when empty.
	ReadyPath string
	// Ready reports whether a status means the worker is up; nil accepts
	// any below 500.
	Ready func(status int) bool
	// TestScheduled serves /__scheduled, which runs the worker's
	// scheduled handler (its Cron Trigger): see Dev.Scheduled.
	TestScheduled bool
	// LogLevel is wrangler's --log-level; "warn" when empty. "info" shows
	// each request, "log" also what the worker writes to the console.
	LogLevel string
	// Env is added to wrangler's environment (KEY=value).
	Env []string
}

// Dev is a running `wrangler dev`.
type Dev struct {
	URL  string
	cmd  *exec.Cmd
	out  *tail
	done chan struct{}
	err  error // of cmd.Wait, once done is closed
	once sync.Once
}

// Start serves the built worker with `wrangler dev` and returns once it
// answers HTTP, or fails with wrangler's output when it exits or does not
// become ready before ctx ends.
func Start(ctx context.Context, opt Options) (*Dev, error) {
	port := opt.Port
	if port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, fmt.Errorf("wrangler dev: %w", err)
		}
		port = p
	}
	inspector, err := FreePort()
	if err != nil {
		return nil, fmt.Errorf("wrangler dev: %w", err)
	}
	envFile := filepath.Join(opt.StateDir, "worker.env")
	if err := writeEnvFile(envFile, opt.Vars); err != nil {
		return nil, fmt.Errorf("wrangler dev: %w", err)
	}
	// The process outlives ctx's deadline for readiness: it ends at Stop.
	args := []string{"dev",
		"--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--inspector-port", strconv.Itoa(inspector),
		"--persist-to", opt.StateDir, "--env-file", envFile,
		"--show-interactive-dev-session=false", "--live-reload=false", "--log-level", cmp.Or(opt.LogLevel, "warn")}
	if opt.TestScheduled {
		args = append(args, "--test-scheduled")
	}
	cmd, err := command(context.WithoutCancel(ctx), opt.Dir, args...)
	if err != nil {
		return nil, fmt.Errorf("wrangler dev: %w", err)
	}
	cmd.Env = append(cmd.Env, opt.Env...)
	d := &Dev{URL: fmt.Sprintf("http://127.0.0.1:%d", port), cmd: cmd, out: &tail{max: 64 << 10}, done: make(chan struct{})}
	var w io.Writer = d.out
	if opt.Log != nil {
		w = io.MultiWriter(d.out, opt.Log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("wrangler dev: %w", err)
	}
	go func() { d.err = cmd.Wait(); close(d.done) }()

	path := opt.ReadyPath
	if path == "" {
		path = "/healthz"
	}
	ready := opt.Ready
	if ready == nil {
		ready = func(status int) bool { return status < 500 }
	}
	if err := d.waitReady(ctx, d.URL+path, ready); err != nil {
		d.Stop()
		return nil, fmt.Errorf("wrangler dev: %w\n%s", err, d.out.String())
	}
	return d, nil
}

// waitReady polls url until ready accepts the status of its answer.
func (d *Dev) waitReady(ctx context.Context, url string, ready func(int) bool) error {
	client := &http.Client{Timeout: 10 * time.Second}
	var last error
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := client.Do(req)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			if ready(resp.StatusCode) {
				return nil
			}
			err = fmt.Errorf("GET %s: %s: %s", url, resp.Status, bytes.TrimSpace(body))
		}
		last = err
		select {
		case <-d.done:
			return fmt.Errorf("exited before it was ready: %v", d.err)
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w (last: %v)", ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Scheduled runs the worker's scheduled handler as its Cron Trigger of
// schedule cron would, through /__scheduled (Options.TestScheduled), and
// returns once the handler has finished: an error if it failed.
func (d *Dev) Scheduled(ctx context.Context, cron string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.URL+"/__scheduled?cron="+url.QueryEscape(cron), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("scheduled event: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("scheduled event: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Output returns the end of wrangler's output.
func (d *Dev) Output() string { return d.out.String() }

// ProcessGroup is the id of the process group of wrangler and workerd.
func (d *Dev) ProcessGroup() int { return d.cmd.Process.Pid }

// Stop ends wrangler and workerd: SIGTERM to the process group, SIGKILL
// after five seconds.
func (d *Dev) Stop() {
	d.once.Do(func() {
		killGroup(d.cmd, syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(5 * time.Second):
		}
		// workerd may outlive wrangler: end whatever is left of the group.
		killGroup(d.cmd, syscall.SIGKILL)
		<-d.done
	})
}

func killGroup(cmd *exec.Cmd, sig syscall.Signal) error {
	if cmd.Process == nil {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, sig)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// writeEnvFile writes vars as a dotenv file readable only by us: it holds
// secrets.
func writeEnvFile(path string, vars map[string]string) error {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		v := vars[k]
		if strings.ContainsAny(v, "\"\\\n\r") {
			return fmt.Errorf("variable %s: quotes, backslashes and line breaks cannot pass through a dotenv file", k)
		}
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, v)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, []byte(b.String()), 0o600)
}

// tail keeps the last max bytes written to it.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
