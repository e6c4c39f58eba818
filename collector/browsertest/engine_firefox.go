package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// firefox is Debian's Firefox ESR over WebDriver BiDi, which Firefox
// serves itself: no separate driver, one WebSocket.
type firefox struct {
	proc *process
	conn *websocket.Conn
	// tab is the browsing context (the one tab) commands act on.
	tab string

	mu     sync.Mutex // one command on the wire at a time
	nextID int
}

// firefoxPrefs are set before Firefox starts, as geckodriver sets them:
// no slow-script guard (a loaded 2-core machine stretches the tracker's
// WebAssembly callbacks tenfold, and Firefox would stop the page's script
// mid-story), and nothing that makes a headless test browser phone home.
const firefoxPrefs = `user_pref("dom.max_script_run_time", 0);
user_pref("dom.max_chrome_script_run_time", 0);
user_pref("dom.ipc.reportProcessHangs", false);
user_pref("remote.prefs.recommended", true);
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("messaging-system.rsexperimentloader.enabled", false);
`

// bidiListening is the line Firefox prints to stderr once its WebDriver
// BiDi server listens; with port 0 it is the only way to learn the port.
var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// StartFirefox starts firefox-esr headless with a fresh profile in opt.Dir
// and opens a BiDi session on its first tab.
func StartFirefox(ctx context.Context, opt EngineOptions) (Engine, error) {
	path, err := exec.LookPath("firefox-esr")
	if err != nil {
		return nil, fmt.Errorf("firefox-esr is not installed (make test-browser installs it): %w", err)
	}
	profile := filepath.Join(opt.Dir, "firefox-profile")
	if err := os.MkdirAll(profile, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(profile, "user.js"), []byte(firefoxPrefs), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "--headless", "--no-remote", "--profile", profile,
		"--remote-debugging-port=0", "about:blank")
	cmd.Env = append(os.Environ(), "MOZ_CRASHREPORTER_DISABLE=1")
	cmd.Stdout = opt.Log
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	found := scanFor(stderr, opt.Log, func(line string) (string, bool) {
		m := bidiListening.FindStringSubmatch(line)
		if m == nil {
			return "", false
		}
		return m[1], true
	})
	proc, err := startProcess("firefox-esr", cmd)
	if err != nil {
		return nil, err
	}
	f := &firefox{proc: proc}
	var url string
	select {
	case url = <-found:
	case <-proc.done:
		proc.stop() // its children, if any
		return nil, fmt.Errorf("firefox-esr exited before its BiDi server listened: %v", proc.err)
	case <-ctx.Done():
		proc.stop()
		return nil, fmt.Errorf("waiting for firefox-esr's BiDi server: %w", ctx.Err())
	}
	f.conn, _, err = websocket.Dial(ctx, url+"/session", nil)
	if err != nil {
		proc.stop()
		return nil, fmt.Errorf("firefox-esr: dial %s/session: %w", url, err)
	}
	f.conn.SetReadLimit(16 << 20)
	if err := f.call(ctx, "session.new", map[string]any{"capabilities": map[string]any{}}, nil); err != nil {
		f.Close()
		return nil, err
	}
	var tree struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := f.call(ctx, "browsingContext.getTree", map[string]any{}, &tree); err != nil {
		f.Close()
		return nil, err
	}
	if len(tree.Contexts) == 0 {
		f.Close()
		return nil, fmt.Errorf("firefox-esr: browsingContext.getTree: no tab")
	}
	f.tab = tree.Contexts[0].Context
	return f, nil
}

func (f *firefox) Name() string { return "firefox" }

// bidiMessage is what the BiDi server sends: the answer to a command (with
// its id) or an event (none are subscribed, but they are allowed).
type bidiMessage struct {
	Type    string          `json:"type"`
	ID      *int            `json:"id"`
	Error   string          `json:"error"`
	Message string          `json:"message"`
	Result  json.RawMessage `json:"result"`
}

// call sends one command and decodes its result into out (nil to drop it).
// When ctx ends the connection closes (coder/websocket's rule), which only
// happens when the test has already failed.
func (f *firefox) call(ctx context.Context, method string, params any, out any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID++
	id := f.nextID
	msg := map[string]any{"id": id, "method": method, "params": params}
	if err := wsjson.Write(ctx, f.conn, msg); err != nil {
		return fmt.Errorf("firefox-esr: send %s: %w", method, err)
	}
	for {
		var m bidiMessage
		if err := wsjson.Read(ctx, f.conn, &m); err != nil {
			return fmt.Errorf("firefox-esr: waiting for the answer to %s: %w", method, err)
		}
		if m.ID == nil || *m.ID != id {
			continue
		}
		if m.Type == "error" {
			return fmt.Errorf("firefox-esr: %s: %s: %s", method, m.Error, m.Message)
		}
		if out == nil {
			return nil
		}
		if err := json.Unmarshal(m.Result, out); err != nil {
			return fmt.Errorf("firefox-esr: %s: %v in %s", method, err, m.Result)
		}
		return nil
	}
}

func (f *firefox) Navigate(ctx context.Context, url string) error {
	return f.call(ctx, "browsingContext.navigate",
		map[string]any{"context": f.tab, "url": url, "wait": "complete"}, nil)
}

func (f *firefox) Eval(ctx context.Context, expr string) (string, error) {
	var r struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	err := f.call(ctx, "script.evaluate", map[string]any{
		"expression":      evalScript(expr),
		"target":          map[string]any{"context": f.tab},
		"awaitPromise":    true,
		"resultOwnership": "none",
	}, &r)
	if err != nil {
		return "", err
	}
	if r.Type == "exception" {
		return "", fmt.Errorf("firefox-esr: eval %s: %s", expr, r.ExceptionDetails.Text)
	}
	s, ok := r.Result.Value.(string)
	if r.Result.Type != "string" || !ok {
		return "", fmt.Errorf("firefox-esr: eval %s: a %s, not the JSON string", expr, r.Result.Type)
	}
	return s, nil
}

// Close ends the session, then the browser's process group.
func (f *firefox) Close() error {
	if f.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_ = f.call(ctx, "session.end", map[string]any{}, nil)
		cancel()
		f.conn.Close(websocket.StatusNormalClosure, "")
	}
	f.proc.stop()
	return nil
}
