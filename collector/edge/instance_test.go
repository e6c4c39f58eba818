//go:build edge

package edge_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/wrangler"
)

// TestGoInstanceKept: by default the worker's glue keeps the Go instance
// for the isolate's next requests (it starts once), and
// VISITRACK_GO_INSTANCE=request starts a fresh one for each; both serve.
func TestGoInstanceKept(t *testing.T) {
	const started = "edge: Go instance started, kept"
	for _, mode := range []string{"isolate", "request"} {
		t.Run(mode, func(t *testing.T) {
			vars := settings()
			vars[edge.EnvGoInstance] = mode
			w := startWorkerWith(t, wrangler.Options{Vars: vars, LogLevel: "log"})
			const n = 5
			for range n {
				resp, err := http.Get(w.URL + "/healthz")
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("healthz: %s", resp.Status)
				}
			}
			// wrangler logs each request once it is answered: once it
			// logged all n, the worker's own lines before them are out.
			deadline := time.Now().Add(time.Minute)
			for strings.Count(w.Output(), "GET /healthz 200") < n {
				if time.Now().After(deadline) {
					t.Fatalf("wrangler did not log %d requests:\n%s", n, w.Output())
				}
				time.Sleep(50 * time.Millisecond)
			}
			got := strings.Count(w.Output(), started)
			if want := map[string]int{"isolate": 1, "request": 0}[mode]; got != want {
				t.Fatalf("%q logged %d times in mode %s, want %d:\n%s", started, got, mode, want, w.Output())
			}
		})
	}
}
