package main

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runHelp runs the command line and fails the test if it does not return
// at once: a help or usage answer must never start serving.
func runHelp(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(args, func(string) string { return "" }, &out, &errOut) }()
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("collector %s did not return: it serves instead of answering", strings.Join(args, " "))
	}
	return out.String(), errOut.String(), err
}

// commands are the subcommands the usage must list, one line each.
var commands = []string{"serve", "token", "backup", "migrate", "help"}

func wantCommands(t *testing.T, where, text string) {
	t.Helper()
	for _, c := range commands {
		if !strings.Contains(text, "\n  "+c+" ") {
			t.Errorf("%s does not list %q:\n%s", where, c, text)
		}
	}
}

// TestBareCollectorListsCommands: `collector` alone prints the commands
// and exits with status 2; it does not start a collector.
func TestBareCollectorListsCommands(t *testing.T) {
	stdout, stderr, err := runHelp(t)
	if !errors.Is(err, errUsage) {
		t.Fatalf("err %v, want the usage error (exit status 2)", err)
	}
	if stdout != "" {
		t.Errorf("stdout %q, want nothing", stdout)
	}
	wantCommands(t, "collector", stderr)
}

// TestHelpListsCommands: --help, -h and help print the commands on
// standard output and succeed.
func TestHelpListsCommands(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help", "help"} {
		stdout, _, err := runHelp(t, arg)
		if err != nil {
			t.Errorf("collector %s: %v", arg, err)
		}
		wantCommands(t, "collector "+arg, stdout)
	}
}

// TestUnknownCommand: a word that is no command is refused with the list.
func TestUnknownCommand(t *testing.T) {
	_, stderr, err := runHelp(t, "srve")
	if !errors.Is(err, errUsage) {
		t.Fatalf("err %v, want the usage error", err)
	}
	if !strings.Contains(stderr, `unknown command "srve"`) {
		t.Errorf("stderr does not name the command:\n%s", stderr)
	}
	wantCommands(t, "collector srve", stderr)
}

// TestEachCommandExplainsItself: every command's --help (and help COMMAND)
// has a usage line and lists its flags, and succeeds.
func TestEachCommandExplainsItself(t *testing.T) {
	cases := []struct {
		args  []string
		usage string
		flags []string
	}{
		{[]string{"serve", "--help"}, "usage: collector serve", []string{"-addr", "-data-dir", "-allowed-origins", "-identity-secret", "-retention"}},
		{[]string{"help", "serve"}, "usage: collector serve", []string{"-addr"}},
		{[]string{"token", "create", "--help"}, "collector token create", []string{"-data-dir", "-scope"}},
		{[]string{"token", "list", "-h"}, "collector token list", []string{"-data-dir", "-json"}},
		{[]string{"token", "revoke", "--help"}, "collector token revoke", []string{"-data-dir"}},
		{[]string{"help", "token", "create"}, "collector token create", []string{"-scope"}},
		{[]string{"backup", "--help"}, "usage: collector backup", []string{"-data-dir"}},
		{[]string{"help", "backup"}, "usage: collector backup", []string{"-data-dir"}},
		{[]string{"migrate", "--help"}, "usage: collector migrate", []string{"-from", "-to", "-batch"}},
		{[]string{"help", "migrate"}, "usage: collector migrate", []string{"-from", "-to"}},
	}
	for _, c := range cases {
		stdout, stderr, err := runHelp(t, c.args...)
		where := "collector " + strings.Join(c.args, " ")
		if err != nil {
			t.Errorf("%s: %v", where, err)
		}
		text := stdout + stderr
		if !strings.Contains(text, c.usage) {
			t.Errorf("%s has no usage line %q:\n%s", where, c.usage, text)
		}
		for _, f := range c.flags {
			if !regexp.MustCompile(`(?m)^ +` + f + `\b`).MatchString(text) {
				t.Errorf("%s does not list its flag %s:\n%s", where, f, text)
			}
		}
	}
}
