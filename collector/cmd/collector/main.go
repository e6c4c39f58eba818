// Command collector is Visitrack's native collector: it keeps visits,
// events, identities and visitor data in an embedded SQLite database and
// serves the tracker, the browser endpoints and the REST API.
//
//	collector serve --addr 127.0.0.1:8080 --data-dir ./data …
//	collector token create|list|revoke …
//	collector backup [--data-dir DIR] FILE
//	collector migrate --from DATA_DIR --to postgres://…
//	collector help [COMMAND]
//
// Every flag also reads VISITRACK_<NAME> (VISITRACK_DATA_DIR, …). A bare
// `collector` lists the commands and serves nothing: a program that starts
// a server holding personal data when called without a word would surprise
// whoever typed it to see what it does. Flags without a command still mean
// serve (`collector --addr …`), the form of the first releases.
// docs/operations.md#the-command-line describes them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/gctune"
)

// usage lists the commands, one line each.
const usage = `usage: collector COMMAND [flags]

Visitrack's collector: visits, events, identities and visitor data in
SQLite (or PostgreSQL), the tracker's endpoints, the REST API and the operator console.

Commands:
  serve    run the collector (make run starts one with its demo)
  token    create, list and revoke API tokens: token create|list|revoke
  backup   write a consistent copy of the database while the collector serves
  migrate  copy a SQLite collector's history into PostgreSQL and verify it
  help     this list, or a command's usage and flags: help COMMAND

Every flag also reads VISITRACK_<NAME> (--data-dir: VISITRACK_DATA_DIR).
'collector COMMAND --help' shows a command's usage and flags;
docs/operations.md describes them all.
`

// errUsage ends a run that printed its usage because it was not told what
// to do: the exit status is 2, as for any command line it cannot follow.
var errUsage = errors.New("usage")

func main() {
	err := run(os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "collector:", err)
		os.Exit(1)
	}
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	switch arg {
	case "-h", "-help", "--help", "help":
		return true
	}
	return false
}

func run(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	ctx := context.Background()
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch cmd := args[0]; {
	case isHelp(cmd):
		if cmd == "help" && len(args) > 1 && !isHelp(args[1]) {
			// "help serve" is "serve --help"; "help token create" is
			// "token create --help".
			return run(append(args[1:], "--help"), getenv, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	case cmd == "token":
		return runToken(ctx, args[1:], stdout, stderr, daemon.OpenDatabase)
	case cmd == "backup":
		return daemon.Backup(ctx, args[1:], getenv, stdout, stderr)
	case cmd == "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case cmd == "serve":
		args = args[1:]
	case strings.HasPrefix(cmd, "-"):
		// Flags without a command: serve, as the first releases did.
	default:
		fmt.Fprintf(stderr, "collector: unknown command %q\n\n%s", cmd, usage)
		return errUsage
	}
	m := daemon.New(stdout, stderr)
	m.Static = staticFiles()
	if err := m.ParseFlags(args, getenv); err != nil {
		if errors.Is(err, daemon.ErrHelp) {
			return nil
		}
		return err
	}
	// The GC ballast is the process's, so it is made here and not in
	// daemon.Main, of which tests run many in one process.
	defer gctune.Start(gctune.DefaultBallast, getenv).Stop()
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
