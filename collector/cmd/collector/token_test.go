package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/daemon"
)

// tokenCmd runs "collector token …" and returns its stdout and stderr.
func tokenCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := runToken(context.Background(), args, &stdout, &stderr, daemon.OpenDatabase)
	return stdout.String(), stderr.String(), err
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("VISITRACK_DATA_DIR", "")

	out, _, err := tokenCmd(t, "create", "--data-dir", dir, "--scope", "history:read", "--scope", "visitordata:write:crm,metadata:read")
	if err != nil {
		t.Fatal(err)
	}
	secret := strings.TrimSuffix(out, "\n")
	if !strings.HasPrefix(secret, "vt_") || strings.ContainsAny(secret, " \n\t") || out != secret+"\n" {
		t.Fatalf("create printed %q: want only the token and a newline", out)
	}

	s, closeStore, err := daemon.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := s.Authenticate(context.Background(), secret)
	closeStore()
	if err != nil || strings.Join(tok.Scopes, " ") != "history:read visitordata:write:crm metadata:read" {
		t.Fatalf("created token: %+v %v", tok, err)
	}

	// VISITRACK_DATA_DIR is the default data directory.
	t.Setenv("VISITRACK_DATA_DIR", dir)
	out, _, err = tokenCmd(t, "list")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(lines[1], tok.TokenID) ||
		!strings.Contains(lines[1], "history:read visitordata:write:crm metadata:read") || !strings.HasSuffix(lines[1], "-") {
		t.Errorf("list:\n%s", out)
	}
	if strings.Contains(out, secret) {
		t.Error("list shows the secret")
	}

	// Flags may follow the ID.
	if _, stderr, err := tokenCmd(t, "revoke", tok.TokenID, "--data-dir", dir); err != nil || !strings.Contains(stderr, tok.TokenID) {
		t.Fatalf("revoke: %v %q", err, stderr)
	}
	out, _, err = tokenCmd(t, "list", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var listed collector.Token
	if err := json.Unmarshal([]byte(out), &listed); err != nil || listed.TokenID != tok.TokenID || listed.RevokedAt == nil {
		t.Errorf("list --json: %q %v", out, err)
	}
	s, closeStore, _ = daemon.OpenStore(dir)
	_, err = s.Authenticate(context.Background(), secret)
	closeStore()
	if collector.ErrorCode(err) != collector.EUNAUTHORIZED {
		t.Errorf("revoked token authenticates: %v", err)
	}
}

func TestTokenCommandErrors(t *testing.T) {
	dir := t.TempDir()
	for name, args := range map[string][]string{
		"no subcommand":     {},
		"unknown":           {"rotate"},
		"create no scope":   {"create", "--data-dir", dir},
		"create bad scope":  {"create", "--data-dir", dir, "--scope", "everything"},
		"create extra args": {"create", "--data-dir", dir, "--scope", "admin", "oops"},
		"revoke no id":      {"revoke", "--data-dir", dir},
		"revoke two ids":    {"revoke", "--data-dir", dir, "a", "b"},
		"revoke unknown":    {"revoke", "--data-dir", dir, "01JD0000000000000000000000"},
		"bad flag":          {"list", "--data-dir", dir, "--yaml"},
	} {
		out, _, err := tokenCmd(t, args...)
		if err == nil {
			t.Errorf("%s: no error", name)
		}
		if out != "" {
			t.Errorf("%s: printed %q on stdout", name, out)
		}
	}
	if _, _, err := tokenCmd(t, "create", "--data-dir", dir, "--scope", "everything"); err == nil || !strings.Contains(err.Error(), "unknown scope") {
		t.Errorf("bad scope error: %v", err)
	}
	if _, _, err := tokenCmd(t, "create", "-h"); err != nil {
		t.Errorf("help: %v", err)
	}
}
