// Command loadgen measures the collector's ingest path (make bench).
//
// In one run it measures:
//  1. the raw SQLite ceiling: the collector's schema and insert code on a
//     fresh file, batched transactions, no network;
//  2. a real collector (a subprocess on loopback with a fresh data
//     directory) driven by N concurrent WebSocket visitors, each sending
//     small events and waiting for the ack before the next frame:
//     first back to back (saturation: durable events/s and the ratio to
//     the raw ceiling), then paced at a target rate (ack latency at that
//     load: back-to-back latency only measures the queue);
//  3. the latency from a visitor-data PATCH (REST) to the push reaching
//     the visitor's WebSocket, with N visitors connected;
//  4. the collector's RSS with M idle connected visitors;
//  5. POST /v1/collect over HTTP: -collect-clients browsers, one event a
//     request (collect.go), requests/s and the collector's CPU per
//     request; with -baseline, other collector binaries in alternating
//     turns (-rounds each), to compare releases in the same run.
//
// It prints durable events/s, the ratio to the raw ceiling, ack latency
// p50/p99, the idle RSS, and the HTTP requests/s.
//
// With -soak (make soak) it instead runs one collector under paced load for
// -soak-load, then idle for -soak-idle, reporting the WAL size, RSS and ack
// p99 every 10 s, and fails when the WAL broke its bounds (soak.go;
// docs/operations.md#the-write-ahead-log-stays-bounded).
//
// With -postgres (make bench-postgres) it runs the same paced and
// saturating loads on one SQLite collector, then on -nodes collectors
// sharing one PostgreSQL database, and prints them side by side with
// bytes per event (postgres.go; docs/benchmarks-postgres.md).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/collector/sqlite"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err == nil && cfg.postgres {
		err = benchPostgres(cfg.pg)
	} else if err == nil && cfg.soak {
		err = soak(cfg.bin, cfg.soakCfg)
	} else if err == nil {
		err = run(cfg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(cfg config) error {
	bin, visitors, perFrame, duration, warmup := cfg.bin, cfg.visitors, cfg.perFrame, cfg.duration, cfg.warmup
	rawEvents, idle, paced, want := cfg.rawEvents, cfg.idle, cfg.paced, cfg.want
	tmp, err := os.MkdirTemp("", "visitrack-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ceiling := 0.0
	if want("raw") {
		if ceiling, err = rawCeiling(filepath.Join(tmp, "raw.db"), rawEvents); err != nil {
			return fmt.Errorf("raw ceiling: %w", err)
		}
		fmt.Printf("raw SQLite ceiling:      %8.0f events/s (%d rows, %d per transaction)\n", ceiling, rawEvents, rawBatch)
		// Its hundreds of MB would otherwise be written back to disk by the
		// kernel while the collector is measured, stalling its commits.
		if err := removeDB(filepath.Join(tmp, "raw.db")); err != nil {
			return err
		}
		syscall.Sync()
	}

	if want("saturation") || want("paced") || want("push") {
		col, err := startCollector(bin, filepath.Join(tmp, "data"))
		if err != nil {
			return err
		}
		defer col.stop()
		if want("saturation") {
			res, err := load([]string{col.addr}, visitors, perFrame, 0, duration, warmup, col)
			if err != nil {
				return fmt.Errorf("load: %w", err)
			}
			fmt.Printf("saturation, %d visitors: %8.0f durable events/s (%d events/frame back to back, %s)\n", visitors, res.rate, perFrame, duration)
			if ceiling > 0 {
				fmt.Printf("ratio to raw ceiling:    %8.2f\n", res.rate/ceiling)
			}
			fmt.Printf("  CPU per durable event: collector %s, loadgen %s (%.2f and %.2f cores)\n",
				res.cpuPerEvent(res.collectorCPU, duration), res.cpuPerEvent(res.selfCPU, duration),
				res.collectorCPU/duration.Seconds(), res.selfCPU/duration.Seconds())
			fmt.Printf("  (ack latency there is queueing: p50 %s p99 %s)\n", res.p50.Round(time.Millisecond), res.p99.Round(time.Millisecond))
		}
		if want("paced") {
			interval := time.Duration(float64(visitors*paced.perFrame) / float64(paced.rate) * float64(time.Second))
			if want("saturation") {
				// Steady state on a fresh collector and a quiet disk: after
				// the saturation run the old one still checkpoints a large
				// WAL and the kernel writes back up to a GB, which is the
				// recovery from a burst, not 30k events/s.
				col.stop()
				syscall.Sync()
				if col, err = startCollector(bin, filepath.Join(tmp, "paced")); err != nil {
					return err
				}
				defer col.stop()
			}
			res, err := load([]string{col.addr}, visitors, paced.perFrame, interval, duration, warmup)
			if err != nil {
				return fmt.Errorf("paced load: %w", err)
			}
			fmt.Printf("paced at %d events/s:   %8.0f durable events/s (%d events/frame, each visitor every %s)\n", paced.rate, res.rate, paced.perFrame, interval.Round(time.Millisecond))
			fmt.Printf("ack latency:             p50 %s  p99 %s  max %s\n", res.p50.Round(100*time.Microsecond), res.p99.Round(100*time.Microsecond), res.max.Round(time.Millisecond))
			fmt.Printf("collector RSS under load: %s\n", mb(col.rss()))
		}
		if want("push") {
			push, err := pushLatency(col.addr, visitors, 2000)
			if err != nil {
				return fmt.Errorf("push latency: %w", err)
			}
			fmt.Printf("PATCH → push, %d visitors: p50 %s  p99 %s  max %s (%d pushes, %.0f PATCH/s)\n",
				visitors, push.p50, push.p99, push.max, push.n, push.rate)
		}
		col.stop() // the idle measurement starts a fresh one
	}

	if idle > 0 && want("idle") {
		col, err := startCollector(bin, filepath.Join(tmp, "idle"))
		if err != nil {
			return err
		}
		defer col.stop()
		before := col.rss()
		conns, err := connectIdle(col.addr, idle)
		if err != nil {
			return fmt.Errorf("idle: %w", err)
		}
		time.Sleep(2 * time.Second)
		after := col.rss()
		fmt.Printf("idle visitors:           %d connected, collector RSS %s (%s before, %.1f KB each)\n",
			len(conns), mb(after), mb(before), float64(after-before)/1024/float64(len(conns)))
		for _, c := range conns {
			c.CloseNow()
		}
	}

	if want("collect") {
		if err := collectRuns(tmp, cfg.collect); err != nil {
			return err
		}
	}
	return nil
}

const rawBatch = 1000

// pacing is the paced run's offered load.
type pacing struct{ rate, perFrame int }

// adminToken is the collector's admin token for the REST calls.
const adminToken = "vt_loadgen_admin_token_0123456789"

// recognitionKey is shared by the collectors of one run, as nodes on one
// database share it (docs/deployment-push.md).
const recognitionKey = "3a5c7e9f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a"

// rawCeiling inserts event rows like the load's through the store's own
// insert, rawBatch per transaction, and returns rows per second.
func rawCeiling(path string, n int) (float64, error) {
	db, err := sqlite.Open(path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	s := store.New(db)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := s.Migrate(ctx); err != nil {
		return 0, err
	}
	wal, err := sqlite.StartWAL(db, path, sqlite.WALConfig{}) // as the collector does
	if err != nil {
		return 0, err
	}
	defer wal.Close()
	rows := make([]store.EventRow, rawBatch)
	visits := make([]string, 1000)
	for i := range visits {
		visits[i] = ulid.Make().String()
	}
	var args []any
	start := time.Now()
	for done := 0; done < n; done += rawBatch {
		now := time.Now().UnixMilli()
		for i := range rows {
			k := (done + i) % len(visits)
			v := visits[k]
			rows[i] = store.EventRow{EventID: ulid.Make().String(), VisitID: v, VisitKey: int64(k + 1), VisitorID: v, SessionID: v,
				PageID: v, Name: "Click", Category: protocol.CategoryBusiness, Timestamp: now, CorrectedAt: now,
				ReceivedAt: now, URL: "https://shop.example/p/1", Data: `{"button":"buy","n":1}`, IP: "127.0.0.1"}
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return 0, err
		}
		if args, _, err = s.InsertEvents(ctx, tx, rows, args); err != nil {
			tx.Rollback()
			return 0, err
		}
		if err := tx.Commit(); err != nil {
			return 0, err
		}
		wal.AfterCommit(ctx)
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// removeDB deletes a SQLite file with its WAL and shared-memory files.
func removeDB(path string) error {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

type collectorProc struct {
	cmd  *exec.Cmd
	addr string
	once sync.Once
	// lastStalls and lastStalled are the writer's checkpoints and their
	// seconds at the soak's previous report (walRestarts).
	lastStalls, lastStalled float64
}

// collectorBin is the collector binary loadgen runs, and the address its
// profiles are served on ("" for none).
type collectorBin struct{ path, debugAddr string }

func startCollector(bin collectorBin, dataDir string, extra ...string) (*collectorProc, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	l.Close()
	// --rate-limit 0 and no cap on sockets per address: every simulated
	// visitor comes from 127.0.0.1, and the point is the collector's
	// capacity, not its limits. (The cap goes by environment, which older
	// binaries, measured the same way for comparison, ignore.)
	args := []string{"serve", "--addr", addr, "--data-dir", dataDir, "--allowed-origins", "*", "--log-level", "warn", "--rate-limit", "0"}
	if bin.debugAddr != "" {
		args = append(args, "--debug-addr", bin.debugAddr)
	}
	args = append(args, extra...) // e.g. --database: the last occurrence of a flag wins
	cmd := exec.Command(bin.path, args...)
	cmd.Env = append(os.Environ(), "VISITRACK_ADMIN_TOKEN="+adminToken, "VISITRACK_MAX_SOCKETS_PER_IP=0",
		"VISITRACK_RECOGNITION_KEY="+recognitionKey)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (run make build first): %w", bin.path, err)
	}
	c := &collectorProc{cmd: cmd, addr: addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			c.stop()
			return nil, errors.New("collector did not become healthy")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *collectorProc) stop() {
	c.once.Do(func() {
		c.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	})
}

// rss is the collector's resident set size in bytes.
func (c *collectorProc) rss() int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func mb(b int64) string { return fmt.Sprintf("%.1f MB", float64(b)/(1<<20)) }

type loadResult struct {
	rate          float64
	p50, p99, max time.Duration
	// selfCPU and collectorCPU are the CPU seconds loadgen and the
	// collectors given to load spent over the measured window (0 where
	// /proc cannot tell): on a shared machine, what the generator spends
	// the collector cannot.
	selfCPU, collectorCPU float64
}

// cpuPerEvent formats seconds of CPU per durable event of r, in µs.
func (r loadResult) cpuPerEvent(seconds float64, window time.Duration) string {
	return fmt.Sprintf("%.1f µs", seconds/(r.rate*window.Seconds())*1e6)
}

func dial(ctx context.Context, addr string) (*websocket.Conn, error) {
	c, _, err := dialAs(ctx, addr, ulid.Make().String())
	return c, err
}

// dialAs connects as visitor and returns the welcome.
func dialAs(ctx context.Context, addr, visitor string) (*websocket.Conn, []byte, error) {
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/v1/ws", &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		return nil, nil, err
	}
	hello, _ := json.Marshal(protocol.Hello{Type: protocol.TypeHello, VisitorID: visitor, VisitID: ulid.Make().String()})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		c.CloseNow()
		return nil, nil, err
	}
	_, welcome, err := c.Read(ctx)
	if err != nil {
		c.CloseNow()
		return nil, nil, err
	}
	return c, welcome, nil
}

type pushResult struct {
	n             int
	rate          float64
	p50, p99, max time.Duration
}

// pushLatency connects visitors, then PATCHes a namespace of one visitor
// after another (8 at a time) and measures until the visitorData frame
// with that version reaches the visitor's socket.
func pushLatency(addr string, visitors, patches int) (pushResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	type waiter struct {
		mu   sync.Mutex
		sent map[int64]time.Time // version → PATCH start
	}
	ids := make([]string, visitors)
	waiters := make([]*waiter, visitors)
	var mu sync.Mutex
	var lat []time.Duration
	for i := range ids {
		ids[i] = ulid.Make().String()
		w := &waiter{sent: map[int64]time.Time{}}
		waiters[i] = w
		c, _, err := dialAs(ctx, addr, ids[i])
		if err != nil {
			return pushResult{}, err
		}
		defer c.CloseNow()
		go func() {
			for {
				_, msg, err := c.Read(ctx)
				if err != nil {
					return
				}
				got := time.Now()
				var vd protocol.VisitorDataView
				if json.Unmarshal(msg, &vd) != nil || vd.Type != protocol.TypeVisitorData {
					continue
				}
				w.mu.Lock()
				start, ok := w.sent[vd.Version]
				delete(w.sent, vd.Version)
				w.mu.Unlock()
				if ok {
					mu.Lock()
					lat = append(lat, got.Sub(start))
					mu.Unlock()
				}
			}
		}()
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	jobs := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	start := time.Now()
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				k := i % visitors
				w := waiters[k]
				body := fmt.Sprintf(`{"step":%d}`, i)
				req, _ := http.NewRequestWithContext(ctx, "PATCH", "http://"+addr+"/v1/visitors/"+ids[k]+"/visitor-data/campaign", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+adminToken)
				req.Header.Set("Content-Type", "application/merge-patch+json")
				// The version is known only from the answer, and the push
				// may come first: hold the waiter's lock across the call.
				w.mu.Lock()
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					w.mu.Unlock()
					errs <- err
					return
				}
				var vd struct {
					Version int64 `json:"version"`
				}
				json.NewDecoder(resp.Body).Decode(&vd)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					w.mu.Unlock()
					errs <- fmt.Errorf("PATCH: %s", resp.Status)
					return
				}
				w.sent[vd.Version] = t0
				w.mu.Unlock()
			}
		}()
	}
	for i := range patches {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return pushResult{}, err
	}
	time.Sleep(500 * time.Millisecond) // the last pushes
	mu.Lock()
	defer mu.Unlock()
	if len(lat) == 0 {
		return pushResult{}, errors.New("no push arrived")
	}
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	return pushResult{n: len(lat), rate: float64(patches) / elapsed.Seconds(), p50: q(0.5), p99: q(0.99), max: lat[len(lat)-1]}, nil
}

// load runs the visitors (see visitor) and measures the acks between
// warmup and warmup+duration. Visitor i connects to addrs[i%len(addrs)]:
// several collectors on one database share the load evenly, as a load
// balancer spreads WebSockets.
func load(addrs []string, visitors, perFrame int, interval, duration, warmup time.Duration, procs ...*collectorProc) (loadResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), warmup+duration+time.Minute)
	defer cancel()
	conns := make([]*websocket.Conn, visitors)
	for i := range conns {
		c, err := dial(ctx, addrs[i%len(addrs)])
		if err != nil {
			return loadResult{}, fmt.Errorf("visitor %d: %w", i, err)
		}
		defer c.CloseNow()
		conns[i] = c
	}
	start := time.Now()
	measureFrom, measureTo := start.Add(warmup), start.Add(warmup+duration)
	cpu := func() (self, collectors float64) {
		for _, p := range procs {
			collectors += p.cpuSeconds()
		}
		return cpuSecondsOf(os.Getpid()), collectors
	}
	var cpuFrom, cpuTo [2]float64
	cpuDone := make(chan struct{})
	time.AfterFunc(warmup, func() {
		cpuFrom[0], cpuFrom[1] = cpu()
		time.AfterFunc(time.Until(measureTo), func() {
			cpuTo[0], cpuTo[1] = cpu()
			close(cpuDone)
		})
	})
	var acked atomic.Int64
	lat := make([][]time.Duration, visitors)
	var wg sync.WaitGroup
	errs := make(chan error, visitors)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := visitor(ctx, c, perFrame, start, measureTo, interval, func(n int, sent, done time.Time) {
				if sent.After(measureFrom) && done.Before(measureTo) {
					acked.Add(int64(n))
					lat[i] = append(lat[i], done.Sub(sent))
				}
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return loadResult{}, err
	}
	all, q := latencies(lat)
	if len(all) == 0 {
		return loadResult{}, errors.New("no ack in the measured window")
	}
	<-cpuDone
	return loadResult{rate: float64(acked.Load()) / duration.Seconds(), p50: q(0.50), p99: q(0.99), max: all[len(all)-1],
		selfCPU: cpuTo[0] - cpuFrom[0], collectorCPU: cpuTo[1] - cpuFrom[1]}, nil
}

// connectIdle opens n visitors that say hello and then stay quiet.
func connectIdle(addr string, n int) ([]*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conns := make([]*websocket.Conn, n)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dial(ctx, addr)
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
				return
			}
			conns[i] = c
			// Keep reading so that pings and closes are handled.
			go func() {
				for {
					if _, _, err := c.Read(context.Background()); err != nil {
						return
					}
				}
			}()
		}()
	}
	wg.Wait()
	if err, _ := firstErr.Load().(error); err != nil {
		return nil, err
	}
	return conns, nil
}
