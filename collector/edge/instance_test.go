//go:build edge

package edge_test

import (
	"bytes"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// TestKeptInstanceHeapFlat: a kept Go instance does not keep what its
// requests allocated (syumai/workers' streamed answers kept about 18 KB
// each, which ends a kept instance at the Workers' 128 MB within some
// 6,000 requests). The worker reports its heap every 4,096 requests.
func TestKeptInstanceHeapFlat(t *testing.T) {
	heapLines := &lineFilter{match: "edge: Go heap "}
	w := startWorkerWith(t, wrangler.Options{Vars: settings(), LogLevel: "log", Log: heapLines})
	const clients, total = 16, 2*4096 + 64
	var wg sync.WaitGroup
	var failed atomic.Bool
	next := atomic.Int64{}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}, Timeout: 30 * time.Second}
	for range clients {
		wg.Go(func() {
			for next.Add(1) <= total && !failed.Load() {
				resp, err := client.Get(w.URL + "/healthz")
				if err != nil {
					t.Error(err)
					failed.Store(true)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		t.FailNow()
	}
	re := regexp.MustCompile(`edge: Go heap (\d+) KB after (\d+) requests`)
	var heaps []int
	deadline := time.Now().Add(time.Minute)
	for {
		heaps = heaps[:0]
		for _, m := range re.FindAllStringSubmatch(heapLines.String(), -1) {
			kb, _ := strconv.Atoi(m[1])
			heaps = append(heaps, kb)
		}
		if len(heaps) >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker reported its heap %d times after %d requests, want 2:\n%s", len(heaps), total, heapLines.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// 4,096 requests that each kept 18 KB would add 72 MB.
	if grown := heaps[1] - heaps[0]; grown > 4096 {
		t.Fatalf("the Go heap grew by %d KB over 4,096 requests (%d KB, then %d KB): a kept instance holds on to requests", grown, heaps[0], heaps[1])
	}
}

// lineFilter keeps the lines written to it that contain match.
type lineFilter struct {
	match   string
	mu      sync.Mutex
	partial []byte
	kept    strings.Builder
}

func (f *lineFilter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.partial = append(f.partial, p...)
	for {
		i := bytes.IndexByte(f.partial, '\n')
		if i < 0 {
			break
		}
		if line := string(f.partial[:i+1]); strings.Contains(line, f.match) {
			f.kept.WriteString(line)
		}
		f.partial = f.partial[i+1:]
	}
	return len(p), nil
}

func (f *lineFilter) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.kept.String()
}
