package api

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkPatchNamespaceHTTP: namespace PATCHes through the whole REST
// path (loopback HTTP, bearer authentication, the store), writers in
// parallel on one hot identity.
func BenchmarkPatchNamespaceHTTP(b *testing.B) {
	e := newVDEnv(b)
	url := e.srv.URL + "/v1/identities/" + e.identity + "/visitor-data/"
	token := "Bearer " + e.tokens["writeAll"]
	client := e.srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			req, _ := http.NewRequest("PATCH", url+fmt.Sprintf("system_%d", i%8), strings.NewReader(fmt.Sprintf(`{"n":%d}`, i)))
			req.Header.Set("Authorization", token)
			req.Header.Set("Content-Type", mediaMergePatch)
			res, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, res.Body) // so that the connection is reused
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "patches/s")
}
