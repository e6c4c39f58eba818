package main

import (
	"io"
	"testing"
	"time"
)

// TestParseFlags: the command line becomes one config and nothing else:
// a second parse starts from the defaults, not from the first one's -only
// or -collector-debug-addr.
func TestParseFlags(t *testing.T) {
	c, err := parseFlags([]string{"-only", "raw, paced", "-collector-debug-addr", "127.0.0.1:6060", "-rate", "500", "-soak-load", "1m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !c.want("raw") || !c.want("paced") || c.want("idle") || c.bin.debugAddr != "127.0.0.1:6060" ||
		c.paced.rate != 500 || c.soakCfg.rate != 500 || c.soakCfg.load != time.Minute || c.soakCfg.maxWALLoad != 256<<20 {
		t.Fatalf("config %+v", c)
	}
	d, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !d.want("idle") || d.bin.debugAddr != "" || d.bin.path != "bin/collector" || d.paced != (pacing{rate: 30_000, perFrame: 5}) ||
		d.visitors != 1000 || d.duration != 10*time.Second || d.soak {
		t.Fatalf("defaults after a parse with flags: %+v", d)
	}
	for _, bad := range [][]string{{"-rate", "fast"}, {"extra"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestParseCollectFlags: -only collect with its baselines and rounds; the
// collect part measures the -collector binary for -duration after
// -warmup, like the other parts.
func TestParseCollectFlags(t *testing.T) {
	c, err := parseFlags([]string{"-only", "collect", "-collector", "bin/new", "-baseline", "/tmp/old/bin/collector,bin/main",
		"-rounds", "3", "-collect-clients", "20", "-duration", "8s", "-warmup", "1s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := collectConfig{bin: collectorBin{path: "bin/new"}, baseline: "/tmp/old/bin/collector,bin/main", clients: 20, rounds: 3,
		duration: 8 * time.Second, warmup: time.Second}
	if !c.want("collect") || c.want("paced") || c.collect != want {
		t.Fatalf("collect config %+v, want %+v", c.collect, want)
	}
	d, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if !d.want("collect") || d.collect.clients != 50 || d.collect.rounds != 1 || d.collect.baseline != "" {
		t.Fatalf("collect defaults %+v", d.collect)
	}
}
