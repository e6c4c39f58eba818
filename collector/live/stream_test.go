package live_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestStreamCarriesCommittedEvents: a backend following GET /v1/stream
// sees an event once it is committed.
func TestStreamCarriesCommittedEvents(t *testing.T) {
	col := collectortest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", col.URL()+"/v1/stream?types=event", nil)
	req.Header.Set("Authorization", "Bearer "+col.AdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	lines := bufio.NewScanner(resp.Body)

	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	e := collectortest.Event("Checkout", "", map[string]any{"total": 42})
	c.SendEvents(false, e)

	sawEvent := false
	for lines.Scan() {
		line := lines.Text()
		if line == "event: event" {
			sawEvent = true
			continue
		}
		if sawEvent && strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, e.EventID) || !strings.Contains(line, `"name":"Checkout"`) {
				t.Fatalf("stream data %s, want event %s", line, e.EventID)
			}
			return
		}
	}
	t.Fatalf("stream ended without the event: %v", lines.Err())
}
