//go:build browser

package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/storage"
	"github.com/chromedp/chromedp"
)

// committed follows the collector's change feed (GET /v1/stream) and
// reports when each visit's first event was committed.
func committed(b *testing.B, c *collectorProc) (first func(visitID string) time.Time) {
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", c.URL()+"/v1/stream?types=event", nil)
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET /v1/stream: %v %v", err, resp)
	}
	seen := make(chan [2]any, 1024)
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data: ")
			if !ok {
				continue
			}
			var e struct {
				VisitID string `json:"visitId"`
			}
			if json.Unmarshal([]byte(data), &e) == nil && e.VisitID != "" {
				seen <- [2]any{e.VisitID, time.Now()}
			}
		}
	}()
	firsts := map[string]time.Time{}
	return func(visitID string) time.Time {
		deadline := time.After(30 * time.Second)
		for {
			if at, ok := firsts[visitID]; ok {
				return at
			}
			select {
			case s := <-seen:
				if _, ok := firsts[s[0].(string)]; !ok {
					firsts[s[0].(string)] = s[1].(time.Time)
				}
			case <-deadline:
				b.Fatalf("no event of visit %s on the feed", visitID)
			}
		}
	}
}

// BenchmarkColdLoad loads a page that embeds the tracker (another origin,
// the snippet of docs/tracker.md#embedding) ten times, each in a new tab with the HTTP
// cache disabled and cleared and no cookies or storage, and reports the medians of navigation start →
// first event committed at the collector, and of the loader's start →
// WebAssembly instantiated.
func BenchmarkColdLoad(b *testing.B) {
	var c *collectorProc
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>cold</title><script>
  window._gt = window._gt || [];
  _gt.push(['config', { collector: '`+c.URL()+`' }]);
</script>
<script async src="`+c.URL()+`/gt.js"></script><p>cold load</p>`)
	}))
	b.Cleanup(site.Close)
	siteURL := strings.Replace(site.URL, "127.0.0.1", "localhost", 1)
	c = startCollector(b, b.TempDir(), "127.0.0.1:0", "--allowed-origins", siteURL)
	firstCommit := committed(b, c)
	browser := newBrowser(b)
	const loads = 10
	for i := 0; i < b.N; i++ {
		var toEvent, instantiate, toInstantiated []float64
		for n := 0; n < loads; n++ {
			tab, cancel := chromedp.NewContext(browser)
			if err := chromedp.Run(tab); err != nil { // opens the tab
				b.Fatal(err)
			}
			// Cold: no HTTP cache (and so no cached compiled wasm), no
			// cookies, no storage of either origin.
			run(b, tab, network.Enable(), network.SetCacheDisabled(true), network.ClearBrowserCache(),
				network.ClearBrowserCookies(),
				storage.ClearDataForOrigin(siteURL, "all"), storage.ClearDataForOrigin(c.URL(), "all"))
			open(b, tab, siteURL+"/?n="+fmt.Sprint(n))
			id := connected(b, tab)
			var m struct {
				Origin       float64 `json:"origin"`
				Loader       float64 `json:"loader"`
				Instantiated float64 `json:"instantiated"`
			}
			eval(b, tab, `({origin: performance.timeOrigin,
				loader: performance.getEntriesByName('visitrack:loader')[0].startTime,
				instantiated: performance.getEntriesByName('visitrack:instantiated')[0].startTime})`, &m)
			at := firstCommit(id.VisitID)
			toEvent = append(toEvent, float64(at.UnixMicro())/1000-m.Origin)
			instantiate = append(instantiate, m.Instantiated-m.Loader)
			toInstantiated = append(toInstantiated, m.Instantiated)
			cancel()
		}
		b.ReportMetric(median(toEvent), "ms-to-first-event")
		b.ReportMetric(median(instantiate), "ms-instantiate")
		b.ReportMetric(median(toInstantiated), "ms-to-instantiated")
		b.Logf("cold loads: navigation start → first event committed %v ms (median %.1f, target ≤ 250); "+
			"loader → instantiated %v ms (median %.1f)", round(toEvent), median(toEvent), round(instantiate), median(instantiate))
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round(v []float64) []int {
	out := make([]int, len(v))
	for i, x := range v {
		out[i] = int(x + 0.5)
	}
	return out
}
