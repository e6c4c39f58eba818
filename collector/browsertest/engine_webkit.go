package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// miniBrowser is the WebKitGTK browser that Debian's libwebkit2gtk-4.1-0
// ships and WebKitWebDriver starts for a session.
const miniBrowser = "/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser"

// webkit is WebKitGTK's MiniBrowser on a virtual X display, driven by
// WebKitWebDriver over classic W3C WebDriver (HTTP).
type webkit struct {
	xvfb, driver *process
	base         string // http://127.0.0.1:port/session/id
	client       *http.Client
}

// StartWebKit starts Xvfb, WebKitWebDriver on a free port, and a session
// that runs MiniBrowser in automation mode with its data under opt.Dir.
func StartWebKit(ctx context.Context, opt EngineOptions) (Engine, error) {
	path, err := exec.LookPath("WebKitWebDriver")
	if err != nil {
		return nil, fmt.Errorf("WebKitWebDriver is not installed (make test-browser installs webkit2gtk-driver): %w", err)
	}
	if _, err := os.Stat(miniBrowser); err != nil {
		return nil, fmt.Errorf("WebKitGTK's MiniBrowser: %w", err)
	}
	w := &webkit{client: &http.Client{}}
	var display string
	w.xvfb, display, err = startXvfb(ctx, opt.Log)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		w.Close()
		return nil, err
	}
	cmd := exec.Command(path, "--port="+strconv.Itoa(port))
	// MiniBrowser inherits this: the display, and a home of its own so that
	// nothing of an earlier run (or of the machine's user) leaks in.
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "WAYLAND_DISPLAY=", "GDK_BACKEND=x11",
		"XDG_DATA_HOME="+filepath.Join(opt.Dir, "data"),
		"XDG_CACHE_HOME="+filepath.Join(opt.Dir, "cache"),
		"XDG_CONFIG_HOME="+filepath.Join(opt.Dir, "config"))
	cmd.Stdout, cmd.Stderr = opt.Log, opt.Log
	w.driver, err = startProcess("WebKitWebDriver", cmd)
	if err != nil {
		w.Close()
		return nil, err
	}
	root := "http://127.0.0.1:" + strconv.Itoa(port)
	if err := w.waitReady(ctx, root); err != nil {
		w.Close()
		return nil, err
	}
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"webkitgtk:browserOptions": map[string]any{"binary": miniBrowser, "args": []string{"--automation"}},
	}}}
	var session struct {
		SessionID string `json:"sessionId"`
	}
	if err := w.do(ctx, "POST", root+"/session", caps, &session); err != nil {
		w.Close()
		return nil, err
	}
	w.base = root + "/session/" + session.SessionID
	return w, nil
}

// waitReady polls the driver's /status until it is ready: it has no other
// signal that it listens.
func (w *webkit) waitReady(ctx context.Context, root string) error {
	for {
		var st struct {
			Ready bool `json:"ready"`
		}
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := w.do(rctx, "GET", root+"/status", nil, &st)
		cancel()
		if err == nil && st.Ready {
			return nil
		}
		if exit := w.driver.exited(); exit != nil {
			return exit
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for WebKitWebDriver on %s: %w (last: %v)", root, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (w *webkit) Name() string { return "webkit" }

// do sends one WebDriver command and decodes the answer's value into out
// (nil to drop it); WebDriver errors come back as Go errors.
func (w *webkit) do(ctx context.Context, method, url string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("WebKitWebDriver: %s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("WebKitWebDriver: %s %s: %w", method, url, err)
	}
	var answer struct {
		Value json.RawMessage `json:"value"`
	}
	if err := json.Unmarshal(raw, &answer); err != nil {
		return fmt.Errorf("WebKitWebDriver: %s %s: %d %v in %s", method, url, resp.StatusCode, err, raw)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error   string `json:"error"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(answer.Value, &e)
		return fmt.Errorf("WebKitWebDriver: %s %s: %d %s: %s", method, url, resp.StatusCode, e.Error, e.Message)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(answer.Value, out); err != nil {
		return fmt.Errorf("WebKitWebDriver: %s %s: %v in %s", method, url, err, raw)
	}
	return nil
}

// Navigate uses the default page load strategy ("normal"): the answer
// comes once the page has loaded.
func (w *webkit) Navigate(ctx context.Context, url string) error {
	return w.do(ctx, "POST", w.base+"/url", map[string]string{"url": url}, nil)
}

// Eval runs the expression as an asynchronous script: its last argument is
// the callback that ends it, called with the JSON text or the error.
func (w *webkit) Eval(ctx context.Context, expr string) (string, error) {
	script := "const done = arguments[arguments.length - 1]; " + evalScript(expr) +
		".then(s => done({ok: s}), e => done({error: String(e && e.message || e)}));"
	var r struct {
		OK    *string `json:"ok"`
		Error string  `json:"error"`
	}
	if err := w.do(ctx, "POST", w.base+"/execute/async", map[string]any{"script": script, "args": []any{}}, &r); err != nil {
		return "", err
	}
	if r.OK == nil {
		return "", fmt.Errorf("WebKitGTK: eval %s: %s", expr, r.Error)
	}
	return *r.OK, nil
}

// Close deletes the session (MiniBrowser quits), then ends the driver and
// the display.
func (w *webkit) Close() error {
	if w.base != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = w.do(ctx, "DELETE", w.base, nil, nil)
		cancel()
	}
	w.driver.stop()
	w.xvfb.stop()
	return nil
}
