package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/visitrack/visitrack/collector/daemon"
)

// startNative runs the native collector in this process, as `collector
// serve` would, on a loopback port and a fresh data directory in dir. It
// returns its URL and how to stop it.
func startNative(ctx context.Context, dir string) (string, func(), error) {
	m := daemon.New(io.Discard, os.Stderr)
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--allowed-origins", origin, "--log-level", "warn",
		// All the load comes from one address; the edge has no limit either.
		"--rate-limit", "0", "--identity-secret", "edgebench-identity-secret-0123456789"}
	if err := m.ParseFlags(args, func(string) string { return "" }); err != nil {
		return "", nil, fmt.Errorf("native collector flags: %w", err)
	}
	if err := m.Run(ctx); err != nil {
		return "", nil, fmt.Errorf("native collector: %w", err)
	}
	return m.URL(), func() { m.Close(context.WithoutCancel(ctx)) }, nil
}
