package live_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
)

// BenchmarkCollectHTTP is the workload of `loadgen -only collect` inside
// one process: 50 browsers on a real collector (loopback, a real SQLite
// file), each posting one Click per POST /v1/collect as text/plain and
// keeping the visitorId, visitorKey and visitId of the answer, which comes
// after the commit. One b.N iteration is one request; allocs/op counts the
// client's allocations too, which no change of the collector moves. Run
// with -cpuprofile to see the handler and the writer together.
func BenchmarkCollectHTTP(b *testing.B) {
	col := collectortest.Start(b, "--rate-limit", "0")
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	url := col.URL() + "/v1/collect"
	b.SetParallelism(25) // 50 browsers on 2 cores
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		visitor, key, visit, page := collectortest.NewID(), "", collectortest.NewID(), collectortest.NewID()
		var body bytes.Buffer
		for pb.Next() {
			ts := time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00")
			id := collectortest.NewID()
			body.Reset()
			body.WriteString(`{"visitorId":"` + visitor + `","visitorKey":"` + key + `","visitId":"` + visit +
				`","sentAt":"` + ts + `","events":[{"eventId":"` + id + `","name":"Click","timestamp":"` + ts +
				`","pageId":"` + page + `","url":"https://shop.example/p/1","data":{"button":"buy","n":1}}]}`)
			req, _ := http.NewRequest(http.MethodPost, url, &body)
			req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
			req.Header.Set("Origin", collectortest.Origin)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			out, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Errorf("collect: %d %s %v", resp.StatusCode, out, err)
				return
			}
			var ans struct {
				VisitorID  string `json:"visitorId"`
				VisitorKey string `json:"visitorKey"`
				VisitID    string `json:"visitId"`
				Ack        struct {
					EventIDs []string `json:"eventIds"`
				} `json:"ack"`
			}
			if err := json.Unmarshal(out, &ans); err != nil || len(ans.Ack.EventIDs) != 1 || !strings.EqualFold(ans.Ack.EventIDs[0], id) {
				b.Errorf("event %s not acknowledged: %s", id, out)
				return
			}
			visitor, key, visit = ans.VisitorID, ans.VisitorKey, ans.VisitID
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
