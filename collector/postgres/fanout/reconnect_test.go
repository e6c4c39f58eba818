package fanout_test

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

const restored = "cross-node push: the LISTEN connection to PostgreSQL was lost and is back"

// The LISTEN connections are killed (pg_terminate_backend): each node
// reconnects, says so in one line, and its sockets re-read their
// documents, since announcements made meanwhile were missed. B's socket
// gets its document again with no write at all; later writes through A
// still reach it.
func TestDroppedListenConnectionResyncs(t *testing.T) {
	a, b, url := twoNodes(t)
	visitor := collectortest.NewID()
	onB := dial(t, b, visitor, collectortest.NewID())
	a.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"theme":"dark"}`)
	waitData(t, onB, "version 1", func(vd protocol.VisitorDataView) bool { return vd.Version == 1 })

	pgtest.Exec(t, url, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name LIKE 'visitrack-push %'`)
	waitData(t, onB, "the resync", func(vd protocol.VisitorDataView) bool {
		return vd.Version == 1 && strings.Contains(string(vd.Data), "dark")
	})
	for _, n := range []*node{a, b} {
		deadline := time.Now().Add(10 * time.Second)
		for n.log.count(restored) == 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	a.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"theme":"light"}`)
	waitData(t, onB, "version 2 after the reconnect", func(vd protocol.VisitorDataView) bool { return vd.Version == 2 })
	for name, n := range map[string]*node{"A": a, "B": b} {
		if got := n.log.count(restored); got != 1 {
			t.Errorf("node %s logged %d lines %q, want 1:\n%s", name, got, restored, n.log.b.String())
		}
		if got := n.log.count("level=ERROR"); got != 0 {
			t.Errorf("node %s logged errors:\n%s", name, n.log.b.String())
		}
	}
}

// BenchmarkCrossNodePush measures a REST write through node A until the
// push frame arrives on a socket of node B, on loopback, and reports the
// median and the 99th percentile (docs/deployment-push.md).
func BenchmarkCrossNodePush(b *testing.B) {
	a, bn, _ := twoNodes(b)
	visitor := collectortest.NewID()
	onB := dial(b, bn, visitor, collectortest.NewID())
	took := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		t0 := time.Now()
		a.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"n":`+itoa(i)+`}`)
		for {
			f, err := next(b, onB, protocol.TypeVisitorData, 10*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			var vd protocol.VisitorDataView
			if json.Unmarshal(f, &vd) == nil && vd.Version == int64(i) {
				break
			}
		}
		took = append(took, time.Since(t0))
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	pct := func(p float64) float64 {
		return float64(took[int(p*float64(len(took)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }
