//go:build edge

package edge_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/edge/wrangler"
)

// TestCronTrimsRollups: on a local D1 under `wrangler dev`, the Worker's
// Cron Trigger deletes the stats minute rows past the minute horizon and
// keeps the recent ones (TestSweepTrimsRollups checks the details
// natively). The checks after the run insert the rows again: the primary
// key refuses a row that is still there.
func TestCronTrimsRollups(t *testing.T) {
	now := time.Now()
	old := now.Add(-72 * time.Hour).Truncate(time.Hour).UnixMilli()
	recent := now.Add(-time.Hour).Truncate(time.Minute).UnixMilli()
	row := func(bucket int64, url string) string {
		return fmt.Sprintf("INSERT INTO stats_pages (level, bucket, url, bot, n) VALUES (60000, %d, '%s', 0, 1)", bucket, url)
	}
	w := startWorkerWith(t, wrangler.Options{Vars: settings(), TestScheduled: true}, row(old, "https://shop.example/old")+"; "+row(recent, "https://shop.example/new"))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := w.Scheduled(ctx, "* * * * *"); err != nil {
		t.Fatalf("cron: %v\nwrangler's output:\n%s", err, w.Output())
	}
	w.Stop()
	if err := wrangler.Execute(ctx, ".", w.state, row(old, "https://shop.example/old")); err != nil {
		t.Errorf("the minute row of three days ago is still there: %v", err)
	}
	if err := wrangler.Execute(ctx, ".", w.state, row(recent, "https://shop.example/new")); err == nil || !strings.Contains(err.Error(), "UNIQUE") {
		t.Errorf("the minute row of an hour ago is gone: inserting it again gave %v", err)
	}
}
