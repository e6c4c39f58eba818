package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/visitrack/visitrack/collector/store"
)

const tokenUsage = `usage:
  collector token create [--data-dir DIR | --database URL] --scope SCOPE [--scope SCOPE…]
  collector token list   [--data-dir DIR | --database URL] [--json]
  collector token revoke [--data-dir DIR | --database URL] ID

create prints the new token, and nothing else, on standard output; it
cannot be shown again. Scopes: history:read, history:delete,
visitordata:read, visitordata:write:<namespace>, visitordata:write:*,
metadata:read, metadata:write, stats:read, notify:write, metrics:read,
admin. --data-dir defaults to $VISITRACK_DATA_DIR, else ./data; --database
(a postgres:// URL, for a collector that keeps its data in PostgreSQL) to
$VISITRACK_DATABASE.
`

// runToken implements "collector token create|list|revoke" on the store
// that openStore opens: the database, else the data directory's.
func runToken(ctx context.Context, args []string, stdout, stderr io.Writer,
	openStore func(ctx context.Context, database, dataDir string) (*store.Store, func() error, error)) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return errors.New("token: a subcommand is required: create, list or revoke")
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet("collector token "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tokenUsage, "\nFlags of token ", cmd, ":\n"); fs.PrintDefaults() }
	dataDir := os.Getenv("VISITRACK_DATA_DIR")
	if dataDir == "" {
		dataDir = "./data"
	}
	fs.StringVar(&dataDir, "data-dir", dataDir, "the data directory (env VISITRACK_DATA_DIR)")
	database := os.Getenv("VISITRACK_DATABASE")
	fs.StringVar(&database, "database", database, "a postgres:// URL; empty for SQLite in --data-dir (env VISITRACK_DATABASE)")
	var scopes scopeList
	var asJSON bool
	switch cmd {
	case "create":
		fs.Var(&scopes, "scope", "a scope of the token; repeat for more")
	case "list":
		fs.BoolVar(&asJSON, "json", false, "print one JSON object per token")
	case "revoke":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tokenUsage)
		return nil
	default:
		fmt.Fprint(stderr, tokenUsage)
		return fmt.Errorf("token: unknown subcommand %q: want create, list or revoke", cmd)
	}
	rest, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("token %s: %w", cmd, err)
	}
	switch {
	case cmd == "revoke" && len(rest) != 1:
		return fmt.Errorf("token revoke: want exactly one token ID, got %d arguments", len(rest))
	case cmd != "revoke" && len(rest) != 0:
		return fmt.Errorf("token %s: unexpected arguments %q", cmd, rest)
	case cmd == "create" && len(scopes) == 0:
		return errors.New("token create: at least one --scope is required (for example --scope history:read)")
	}

	s, closeStore, err := openStore(ctx, database, dataDir)
	if err != nil {
		return fmt.Errorf("token %s: %w", cmd, err)
	}
	defer closeStore()
	switch cmd {
	case "create":
		t, secret, err := s.CreateToken(ctx, scopes)
		if err != nil {
			return fmt.Errorf("token create: %w", err)
		}
		fmt.Fprintf(stderr, "created token %s with scopes %s\n", t.TokenID, strings.Join(t.Scopes, " "))
		_, err = fmt.Fprintln(stdout, secret)
		return err
	case "list":
		tokens, err := s.ListTokens(ctx)
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		if asJSON {
			enc := json.NewEncoder(stdout)
			for _, t := range tokens {
				if err := enc.Encode(t); err != nil {
					return err
				}
			}
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSCOPES\tCREATED\tREVOKED")
		for _, t := range tokens {
			revoked := "-"
			if t.RevokedAt != nil {
				revoked = t.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.TokenID, strings.Join(t.Scopes, " "), t.CreatedAt.Format(time.RFC3339), revoked)
		}
		return tw.Flush()
	default: // revoke
		if err := s.RevokeToken(ctx, rest[0]); err != nil {
			return fmt.Errorf("token revoke: %w", err)
		}
		fmt.Fprintf(stderr, "revoked token %s\n", rest[0])
		return nil
	}
}

// parseInterspersed parses flags wherever they stand among the positional
// arguments ("revoke ID --data-dir X" as well as "revoke --data-dir X ID")
// and returns the positional ones.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return rest, nil
		}
		if args[0] == "--" {
			return append(rest, args[1:]...), nil
		}
		rest = append(rest, args[0])
		args = args[1:]
	}
}

// scopeList is a repeatable --scope flag; a value may also hold several
// scopes separated by commas or spaces.
type scopeList []string

func (s *scopeList) String() string { return strings.Join(*s, " ") }

func (s *scopeList) Set(v string) error {
	for _, sc := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		*s = append(*s, sc)
	}
	return nil
}
