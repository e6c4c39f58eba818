//go:build js && wasm

// Command worker is the collector's entry point on Cloudflare Workers:
// `make edge-build` compiles it to build/app.wasm, which syumai/workers'
// glue (build/worker.mjs) runs for each request and each Cron Trigger
// event. The collector itself is package edge.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"syscall/js"

	"github.com/syumai/workers"
	"github.com/syumai/workers/cloudflare"
	"github.com/syumai/workers/cloudflare/cron"
	"github.com/syumai/workers/cloudflare/d1"

	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/edge/d1batch"
)

func main() {
	// What the program writes shows in `wrangler tail` and the dashboard.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	db, batch, err := openDB()
	var h http.Handler
	var sockets *edge.Sockets
	if err == nil {
		opts := []edge.Option{edge.WithBatcher(batch)}
		if a := announcer(); a != nil {
			opts = append(opts, edge.WithSockets(a, socketVisits()))
		}
		if runtimeContext().Get("socketsObject").Truthy() {
			// The Durable Object's instance (glue/sockets.mjs).
			opts = append(opts, edge.WithSessions(&sockets))
		}
		h, err = edge.New(context.Background(), db, cloudflare.Getenv, logger, opts...)
	}
	if sockets != nil {
		// A Durable Object's instance serves WebSockets (sockets.go).
		bindSockets(sockets)
	}
	if err != nil {
		logger.Error("edge: cannot start", "err", err)
		h = edge.Unavailable(err)
	}
	// The Cron Trigger (wrangler.jsonc "triggers") ends timed-out visits.
	// syumai/workers panics on an error the task returns: that ends this
	// Go instance, which serves this one event only, and the run shows as
	// failed in the Worker's cron events.
	cron.ScheduleTaskNonBlock(func(ctx context.Context) error {
		if db == nil {
			return err
		}
		n, err := edge.Sweep(ctx, db, cloudflare.Getenv, logger)
		if err != nil {
			logger.Error("edge: visit timeout sweep", "ended", n, "err", err)
			return err
		}
		return nil
	})
	workers.ServeNonBlock(wholeBodies(h))
	workers.Ready()
	if sockets != nil {
		// A Durable Object's instance (glue/sockets.mjs), kept while the
		// object lives: one such line per start (the edge tests count
		// them to see an eviction).
		fmt.Fprintln(os.Stderr, "edge: Go instance started for a Durable Object's WebSockets")
		select {}
	}
	if js.Global().Get("context").Get("keepInstance").Truthy() {
		// The glue (glue/worker.mjs) keeps this instance for the
		// isolate's next requests: never return. Once per isolate, this
		// line shows that it does (the edge tests count it).
		fmt.Fprintln(os.Stderr, "edge: Go instance started, kept for this isolate's requests")
		select {}
	}
	// A fresh instance per request: end once its answer is sent.
	<-workers.Done()
}

// openDB opens the D1 binding DB (wrangler.jsonc), with the writes of a
// d1batch.Unit held for one batch() call.
func openDB() (*sql.DB, d1batch.Batcher, error) {
	c, err := d1.OpenConnector("DB")
	if err != nil {
		return nil, nil, fmt.Errorf("the D1 binding DB: %w", err)
	}
	return sql.OpenDB(d1batch.NewConnector(c)), d1batch.D1(cloudflare.GetBinding("DB")), nil
}
