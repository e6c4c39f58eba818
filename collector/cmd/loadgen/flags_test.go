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
