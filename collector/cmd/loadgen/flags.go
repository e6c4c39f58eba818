package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// config is loadgen's command line.
type config struct {
	bin                collectorBin
	visitors, perFrame int
	paced              pacing
	duration, warmup   time.Duration
	rawEvents, idle    int
	phases             map[string]bool // the parts -only asked for; nil runs all
	soak               bool
	soakCfg            soakConfig
	// postgres runs make bench-postgres instead (postgres.go).
	postgres bool
	pg       pgBench
	// collect is the HTTP ingest part (collect.go).
	collect collectConfig
}

// want reports whether the run includes phase.
func (c config) want(phase string) bool { return c.phases == nil || c.phases[phase] }

// parseFlags reads loadgen's command line; usage goes to stderr.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	fs.StringVar(&c.bin.path, "collector", "bin/collector", "collector binary")
	fs.IntVar(&c.visitors, "visitors", 1000, "concurrent WebSocket visitors")
	fs.IntVar(&c.perFrame, "events-per-frame", 10, "events in each frame of the saturation run (a tracker sends what queued while it waited for the last ack)")
	fs.IntVar(&c.paced.rate, "rate", 30_000, "events/s offered in the paced latency run")
	fs.IntVar(&c.paced.perFrame, "paced-events-per-frame", 5, "events in each frame of the paced run")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured load duration")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "load before measuring")
	fs.IntVar(&c.rawEvents, "raw-events", 300_000, "rows for the raw SQLite ceiling")
	fs.IntVar(&c.idle, "idle", 10_000, "idle connections for the RSS measurement (0 skips)")
	fs.StringVar(&c.bin.debugAddr, "collector-debug-addr", "", "pass --debug-addr to the collector, to profile it under load")
	only := fs.String("only", "", "run only these comma-separated parts: raw, saturation, paced, push, idle, collect (all when empty)")
	fs.IntVar(&c.collect.clients, "collect-clients", 50, "collect: concurrent HTTP browsers, one event per POST /v1/collect")
	fs.StringVar(&c.collect.baseline, "baseline", "", "collect: other collector binaries, comma-separated (e.g. an older release), measured in turns with -collector")
	fs.IntVar(&c.collect.rounds, "rounds", 1, "collect: turns of each collector (take the median of 3 or more on a shared machine)")
	fs.BoolVar(&c.soak, "soak", false, "soak instead: -soak-load of paced load (-rate, -visitors, -paced-events-per-frame; -rate 0 is back to back), then -soak-idle, checking the WAL bounds")
	fs.DurationVar(&c.soakCfg.load, "soak-load", 3*time.Minute, "soak: how long the load lasts")
	fs.DurationVar(&c.soakCfg.idle, "soak-idle", 30*time.Second, "soak: the idle time after the load, at whose end the WAL must be small")
	fs.DurationVar(&c.soakCfg.every, "soak-every", 10*time.Second, "soak: report interval")
	fs.BoolVar(&c.soakCfg.noReader, "soak-no-reader", false, "soak: leave out the REST reader (to measure its cost)")
	fs.BoolVar(&c.postgres, "postgres", false, "instead: one SQLite collector, then -nodes collectors on one PostgreSQL, each back to back and paced (make bench-postgres; postgres.go)")
	fs.IntVar(&c.pg.nodes, "nodes", 2, "postgres: collectors on the one database")
	fs.StringVar(&c.pg.database, "database", "", "postgres: an empty database to use; empty starts a throwaway durable cluster")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *only != "" {
		c.phases = map[string]bool{}
		for p := range strings.SplitSeq(*only, ",") {
			c.phases[strings.TrimSpace(p)] = true
		}
	}
	c.soakCfg.visitors, c.soakCfg.perFrame, c.soakCfg.rate = c.visitors, c.paced.perFrame, c.paced.rate
	c.soakCfg.maxWALLoad, c.soakCfg.maxWALIdle = 256<<20, 64<<20
	c.collect.bin, c.collect.duration, c.collect.warmup = c.bin, c.duration, c.warmup
	c.pg.bin, c.pg.visitors, c.pg.perFrame, c.pg.paced, c.pg.duration, c.pg.warmup = c.bin, c.visitors, c.perFrame, c.paced, c.duration, c.warmup
	return c, nil
}
