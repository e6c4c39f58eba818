//go:build js && wasm

// Command worker is the collector's entry point on Cloudflare Workers:
// `make edge-build` compiles it to build/app.wasm, which syumai/workers'
// glue (build/worker.mjs) runs for each request. The collector itself is
// package edge.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"os"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/d1"

	"github.com/visitrack/visitrack/collector/edge"
)

func main() {
	// What the program writes shows in `wrangler tail` and the dashboard.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := open(logger)
	if err != nil {
		logger.Error("edge: cannot start", "err", err)
		h = edge.Unavailable(err)
	}
	workers.Serve(h)
}

// open builds the collector on the D1 binding DB (wrangler.jsonc).
func open(logger *slog.Logger) (http.Handler, error) {
	c, err := d1.OpenConnector("DB")
	if err != nil {
		return nil, fmt.Errorf("the D1 binding DB: %w", err)
	}
	return edge.New(context.Background(), sql.OpenDB(c), cloudflare.Getenv, logger)
}
