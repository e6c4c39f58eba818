package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumOptions are the flags for headless Chromium with a fresh profile
// that were found to work on our test machines (as root: no sandbox).
func chromiumOptions(path, profile string) []chromedp.ExecAllocatorOption {
	return append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 1000),
	)
}

// chromium is headless Chromium over the DevTools protocol (chromedp).
type chromium struct {
	tab         context.Context
	cancelTab   context.CancelFunc
	cancelAlloc context.CancelFunc
}

// StartChromium starts Debian's chromium with a fresh profile in opt.Dir.
func StartChromium(ctx context.Context, opt EngineOptions) (Engine, error) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		return nil, fmt.Errorf("chromium is not installed (make test-browser installs it): %w", err)
	}
	opts := append(chromiumOptions(path, filepath.Join(opt.Dir, "chromium-profile")),
		chromedp.CombinedOutput(opt.Log))
	// chromedp ends the browser when the allocator's context ends, so it
	// lives on context.Background until Close, not on ctx.
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, cancelTab := chromedp.NewContext(actx)
	c := &chromium{tab: tab, cancelTab: cancelTab, cancelAlloc: cancelAlloc}
	// No deadline on the first Run (it starts the browser and the deadline
	// would end it): give up on ctx from outside instead.
	stop := context.AfterFunc(ctx, cancelAlloc)
	err = chromedp.Run(tab)
	stop()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("start chromium: %w", err)
	}
	return c, nil
}

func (c *chromium) Name() string { return "chromium" }

// run runs actions in the tab, ended early when ctx ends.
func (c *chromium) run(ctx context.Context, actions ...chromedp.Action) error {
	rctx, cancel := context.WithCancel(c.tab)
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	if err := chromedp.Run(rctx, actions...); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}
	return nil
}

func (c *chromium) Navigate(ctx context.Context, url string) error {
	if err := c.run(ctx, chromedp.Navigate(url)); err != nil {
		return fmt.Errorf("chromium: navigate to %s: %w", url, err)
	}
	return nil
}

func (c *chromium) Eval(ctx context.Context, expr string) (string, error) {
	var s string
	err := c.run(ctx, chromedp.Evaluate(evalScript(expr), &s, func(p *runtime.EvaluateParams) *runtime.EvaluateParams {
		return p.WithAwaitPromise(true)
	}))
	if err != nil {
		return "", fmt.Errorf("chromium: eval %s: %w", expr, err)
	}
	return s, nil
}

// Close ends the tab and the browser; chromedp waits for the browser
// process to exit.
func (c *chromium) Close() error {
	c.cancelTab()
	c.cancelAlloc()
	return nil
}
