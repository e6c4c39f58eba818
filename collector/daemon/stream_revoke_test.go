package daemon_test

import (
	"bufio"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
)

// TestRevokedTokenLosesStream (docs/security.md#api-token): `collector token revoke` runs as
// another process that only writes the database; the running collector's
// open /v1/stream of that token still ends within 10 s.
func TestRevokedTokenLosesStream(t *testing.T) {
	col := collectortest.Start(t)
	ctx := context.Background()

	// As `collector token create` and `token revoke` do: their own store on
	// the same data directory.
	cli, closeCLI, err := daemon.OpenStore(col.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeCLI()
	tok, secret, err := cli.CreateToken(ctx, []string{collector.ScopeHistoryRead})
	if err != nil {
		t.Fatal(err)
	}

	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(sctx, "GET", col.URL()+"/v1/stream", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("stream: %d", res.StatusCode)
	}
	lines := bufio.NewScanner(res.Body)
	if !lines.Scan() || lines.Text() != "retry: 2000" {
		t.Fatalf("stream start: %q %v", lines.Text(), lines.Err())
	}

	revoked := time.Now()
	if err := cli.RevokeToken(ctx, tok.TokenID); err != nil {
		t.Fatal(err)
	}
	var last []string
	for lines.Scan() {
		last = append(last, lines.Text())
	}
	// The stream ended (the body reached EOF, not the minute's timeout),
	// and said why.
	if sctx.Err() != nil || lines.Err() != nil {
		t.Fatalf("the stream did not end after the revocation: %v %v; got %q", sctx.Err(), lines.Err(), last)
	}
	if len(last) < 3 || last[len(last)-3] != "event: reset" || last[len(last)-2] != `data: "token revoked"` {
		t.Fatalf("the stream ended without saying why: %q", last)
	}
	t.Logf("the stream ended %v after the revocation", time.Since(revoked).Round(time.Millisecond))
	if status, _ := collectortest.Request(t, col.URL(), secret, "GET", "/v1/stream", nil); status != 401 {
		t.Fatalf("a new stream with the revoked token: %d, want 401", status)
	}
}
