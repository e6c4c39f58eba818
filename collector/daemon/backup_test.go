package daemon_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
)

// TestBackupUnderLoadAndRestore: a backup taken while events stream in,
// restored into a fresh data directory, holds every event acknowledged
// before the backup began; the line it prints is the copy's size and
// event count; it never overwrites a file.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	col := collectortest.Start(t, "--rate-limit", "0")
	visitor, visit := collectortest.NewID(), collectortest.NewID()
	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	loadDone := make(chan struct{})
	go func() { // the load: batches back to back until stopped
		defer close(loadDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			a := collect(t, col.URL(), visitor, visit, 20)
			if a.status != 200 {
				t.Errorf("collect during the backup: %+v", a)
				return
			}
			mu.Lock()
			acked = append(acked, a.acked...)
			mu.Unlock()
		}
	}()
	waitFor(t, "events before the backup", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 500 })

	mu.Lock()
	before := append([]string(nil), acked...)
	mu.Unlock()
	file := filepath.Join(t.TempDir(), "backup.db")
	var stdout, stderr bytes.Buffer
	if err := daemon.Backup(context.Background(), []string{"--data-dir", col.DataDir, file}, noEnv, &stdout, &stderr); err != nil {
		t.Fatalf("backup: %v (%s)", err, stderr.String())
	}
	waitFor(t, "events after the backup", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= len(before)+100 })
	close(stop)
	<-loadDone
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("the backup has mode %v; it holds visitors' data: want 0600", fi.Mode().Perm())
	}
	var size, events int64
	var name string
	if _, err := fmt.Sscanf(stdout.String(), "%s %d bytes, %d events\n", &name, &size, &events); err != nil || size != fi.Size() || name != file+":" {
		t.Fatalf("backup printed %q; the file has %d bytes", stdout.String(), fi.Size())
	}
	if events < int64(len(before)) {
		t.Fatalf("backup counted %d events, %d were acknowledged before it began", events, len(before))
	}

	// It never overwrites.
	stdout.Reset()
	if err := daemon.Backup(context.Background(), []string{"--data-dir", col.DataDir, file}, noEnv, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second backup to the same file: %v", err)
	}
	if fi2, _ := os.Stat(file); fi2.Size() != fi.Size() || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatal("the refused backup changed the file")
	}

	// Restore as docs/operations.md#backup-and-restore says: a fresh data directory with the copy as
	// visitrack.db and the recognition key beside it.
	restored := t.TempDir()
	copyFile(t, file, filepath.Join(restored, "visitrack.db"))
	copyFile(t, filepath.Join(col.DataDir, "recognition.key"), filepath.Join(restored, "recognition.key"))
	col2 := collectortest.StartIn(t, restored)
	stored := listEvents(t, col2.URL(), col2.AdminToken, visit)
	for _, id := range before {
		if !stored[id] {
			t.Fatalf("event %s, acknowledged before the backup, is not in the restored collector (%d of %d there)", id, len(stored), len(before))
		}
	}
	if int64(len(stored)) != events {
		t.Fatalf("the restored collector has %d events, the backup said %d", len(stored), events)
	}
	t.Logf("%d events acknowledged before the backup, %d in it, %d bytes", len(before), events, size)
}

// TestBackupErrors: a missing data directory, a missing target directory
// and a full disk each get a clear error and leave no file.
func TestBackupErrors(t *testing.T) {
	run := func(args ...string) error {
		return daemon.Backup(context.Background(), args, noEnv, io.Discard, io.Discard)
	}
	if err := run("--data-dir", filepath.Join(t.TempDir(), "nope"), filepath.Join(t.TempDir(), "b.db")); err == nil || !strings.Contains(err.Error(), "no database at") {
		t.Errorf("missing data dir: %v", err)
	}
	col := collectortest.Start(t)
	collect(t, col.URL(), collectortest.NewID(), collectortest.NewID(), 10)
	if err := run("--data-dir", col.DataDir, filepath.Join(t.TempDir(), "missing", "b.db")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing target directory: %v", err)
	}
	tiny := smallFS(t, "64k")
	target := filepath.Join(tiny, "b.db")
	err := run("--data-dir", col.DataDir, target)
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Errorf("full disk: %v", err)
	}
	if left, _ := os.ReadDir(tiny); len(left) != 0 {
		t.Errorf("a failed backup left %d files behind", len(left))
	}
}

func noEnv(string) string { return "" }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// listEvents returns the eventIds of a visit, through the REST API.
func listEvents(t *testing.T, url, token, visit string) map[string]bool {
	t.Helper()
	stored := map[string]bool{}
	for cursor := ""; ; {
		var page struct {
			Items []struct {
				EventID string `json:"eventId"`
			} `json:"items"`
			NextCursor *string `json:"nextCursor"`
		}
		path := fmt.Sprintf("/v1/events?visitId=%s&limit=1000", visit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		status, b := collectortest.Request(t, url, token, "GET", path, nil)
		if status != 200 {
			t.Fatalf("list events: %d %s", status, b)
		}
		if err := json.Unmarshal(b, &page); err != nil {
			t.Fatal(err)
		}
		for _, e := range page.Items {
			stored[e.EventID] = true
		}
		if page.NextCursor == nil {
			return stored
		}
		cursor = *page.NextCursor
	}
}
