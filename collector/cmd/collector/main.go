// Command collector is Visitrack's native collector: it keeps visits,
// events, identities and visitor data in an embedded SQLite database and
// serves the tracker, the browser endpoints and the REST API.
//
//	collector [serve] --addr 127.0.0.1:8080 --data-dir ./data …
//	collector token create|list|revoke …
//	collector backup [--data-dir DIR] FILE
//
// Every flag also reads VISITRACK_<NAME> (VISITRACK_DATA_DIR, …).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
)

func main() {
	if err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx := context.Background()
	if len(args) > 0 && args[0] == "token" {
		return runToken(ctx, args[1:], stdout, stderr, daemon.OpenDatabase)
	}
	if len(args) > 0 && args[0] == "backup" {
		return daemon.Backup(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	m := daemon.New(stdout, stderr)
	m.Static = staticFiles()
	if err := m.ParseFlags(args, getenv); err != nil {
		if errors.Is(err, daemon.ErrHelp) {
			return nil
		}
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := m.Run(ctx); err != nil {
		m.Close(ctx)
		return err
	}
	<-sigs
	m.Logger.Info("shutting down: stop accepting, flush, close sockets (a second signal kills)")
	go func() {
		<-sigs
		os.Exit(2)
	}()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return m.Close(ctx)
}
