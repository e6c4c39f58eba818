package maintain_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store"
)

// quietAndBusy runs bench twice, as sub-benchmarks "quiet" (no job
// beside the load) and busy (the job beside it).
func quietAndBusy(b *testing.B, busy string, bench func(b *testing.B, on bool)) {
	for _, on := range []bool{false, true} {
		name := "quiet"
		if on {
			name = busy
		}
		b.Run(name, func(b *testing.B) { bench(b, on) })
	}
}

// pacedBeside is the load of the paced benchmarks: 50 clients, 5 events
// every 20 ms each (12,500 events/s), b.N calls per client, through in,
// with job, when one is given, running beside it through w at its pace.
// It reports the ack latency and returns how long the load took.
func pacedBeside(b *testing.B, s *store.Store, in *ingest.Ingester, w maintain.Writer, job *maintain.Job,
	event func(ts string) json.RawMessage) time.Duration {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &maintain.Runner{}
	if job != nil {
		var err error
		if r, err = maintain.Start(ctx, maintain.Config{Writer: w, Store: s}, *job); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	start := time.Now()
	lat := ingesttest.Paced(b, in, 50, 5, b.N, 20*time.Millisecond, event)
	b.StopTimer()
	elapsed := time.Since(start)
	r.Stop()
	ingesttest.ReportLatency(b, lat)
	return elapsed
}

// jobOrNil returns the job newJob makes when on, nil otherwise.
func jobOrNil(b *testing.B, on bool, newJob func() (maintain.Job, error)) *maintain.Job {
	if !on {
		return nil
	}
	job, err := newJob()
	if err != nil {
		b.Fatal(err)
	}
	return &job
}
