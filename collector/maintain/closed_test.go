package maintain_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/maintain"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// lockedBuffer is a log destination the jobs' goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestEndsWhenTheWriterCloses: a job whose writer has closed (the
// collector is shutting down) ends its rounds quietly, rather than
// failing and logging once every idle wait until it is stopped; a round
// that fails for another reason is logged, naming the job.
func TestEndsWhenTheWriterCloses(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	in := ingesttest.Start(t, ingest.Config{Store: st})
	if err := in.Close(ctx); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	trim, err := maintain.Rollups(maintain.RollupConfig{Store: st, Pause: time.Millisecond, Idle: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r, err := maintain.Start(ctx, maintain.Config{Writer: in, Store: st, Logger: logger}, trim)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a hundred idle waits
	r.Stop()
	if s := logs.String(); s != "" {
		t.Fatalf("a job on a closed writer logged:\n%s", s)
	}

	// A round that fails otherwise: the store's database is gone.
	st2 := storetest.New(t)
	in2 := ingesttest.Start(t, ingest.Config{Store: st2, Direct: true})
	trim2, err := maintain.Rollups(maintain.RollupConfig{Store: st2, Idle: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	st2.DB().Close()
	r, err = maintain.Start(ctx, maintain.Config{Writer: in2, Store: st2, Logger: logger}, trim2)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "maintenance round failed") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	r.Stop()
	if s := logs.String(); !strings.Contains(s, `job="rollup trimming"`) || strings.Count(s, "\n") != 1 {
		t.Fatalf("a failed round logged %q; want one line naming the job", s)
	}
}
