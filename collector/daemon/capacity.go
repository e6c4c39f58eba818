package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/visitrack/visitrack/collector/webhook"
)

// capacityClient asks an engagement rule's capacity URL how many agents
// are available (docs/engagement.md): GET answering {"available": n},
// within 2 s, through the webhooks' guarded client (the SSRF guard at
// dial, no proxy, no redirect; private addresses only with
// --webhook-allow-private). It lives in the native program: the edge's
// Worker links no HTTP client.
func capacityClient(allowPrivate bool) func(ctx context.Context, url string) (int, error) {
	const timeout = 2 * time.Second
	client := webhook.Client(webhook.Guard{AllowPrivate: allowPrivate}.Transport(timeout, 2), timeout)
	return func(ctx context.Context, url string) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, fmt.Errorf("capacity %s: %w", url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("capacity %s: status %d", url, resp.StatusCode)
		}
		var out struct {
			Available *int `json:"available"`
		}
		if err := json.NewDecoder(io.LimitReader(resp.Body, 4096)).Decode(&out); err != nil || out.Available == nil {
			return 0, fmt.Errorf(`capacity %s: want {"available": n}`, url)
		}
		return *out.Available, nil
	}
}
