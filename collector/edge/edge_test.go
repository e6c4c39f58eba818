//go:build edge

package edge_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/edge/wrangler"
)

// startWorker migrates a fresh local D1 and serves the built worker.
func startWorker(t *testing.T, vars map[string]string) *wrangler.Dev {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	state := t.TempDir()
	if err := wrangler.Migrate(ctx, ".", state); err != nil {
		t.Fatal(err)
	}
	dev, err := wrangler.Start(ctx, wrangler.Options{Dir: ".", StateDir: state, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dev.Stop)
	return dev
}

func TestWorkerServes(t *testing.T) {
	dev := startWorker(t, map[string]string{"VISITRACK_ADMIN_TOKEN": "t"})
	resp, err := http.Get(dev.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /healthz: %s %s\n%s", resp.Status, body, dev.Output())
	}
	t.Logf("%s", body)
}
