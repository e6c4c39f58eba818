package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// soakConfig is the soak run (-soak): sustained load on one collector, then
// idle, watching what must stay bounded over time rather than a peak.
type soakConfig struct {
	visitors, perFrame, rate int
	load, idle, every        time.Duration
	// maxWALLoad and maxWALIdle are the WAL's promised bounds: the WAL during the
	// load, and at the end of the idle period.
	maxWALLoad, maxWALIdle int64
	// noReader leaves the REST reader out, to tell its cost on the ack
	// latency (its visits list counts each visit's events, and a soak's
	// visits grow to thousands of events) from the writer's.
	noReader bool
}

// soak drives a real collector with paced WebSocket visitors (rate 0: back
// to back) plus one REST reader, prints the WAL size, the collector's RSS
// and the ack p99 every interval, then stays idle, and fails when the WAL
// broke a bound.
func soak(bin collectorBin, cfg soakConfig) error {
	tmp, err := os.MkdirTemp("", "visitrack-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dataDir := filepath.Join(tmp, "data")
	col, err := startCollector(bin, dataDir)
	if err != nil {
		return err
	}
	defer col.stop()
	wal := filepath.Join(dataDir, "visitrack.db-wal")

	ctx, cancel := context.WithTimeout(context.Background(), cfg.load+cfg.idle+2*time.Minute)
	defer cancel()
	conns := make([]*websocket.Conn, cfg.visitors)
	for i := range conns {
		if conns[i], err = dial(ctx, col.addr); err != nil {
			return fmt.Errorf("visitor %d: %w", i, err)
		}
		defer conns[i].CloseNow()
	}
	var interval time.Duration
	if cfg.rate > 0 {
		interval = time.Duration(float64(cfg.visitors*cfg.perFrame) / float64(cfg.rate) * float64(time.Second))
	}
	// The probe writes beside the data directory: the same filesystem.
	probe, err := startDiskProbe(ctx, tmp, 50*time.Millisecond)
	if err != nil {
		return err
	}
	fmt.Printf("soak: %d visitors, %d events/frame, %s, load %s then idle %s; bounds: WAL <= %s under load, <= %s at the end\n",
		cfg.visitors, cfg.perFrame, rateLabel(cfg.rate), cfg.load, cfg.idle, mb(cfg.maxWALLoad), mb(cfg.maxWALIdle))

	var (
		mu      sync.Mutex
		window  []time.Duration // ack latencies since the last report
		all     []time.Duration
		acked   atomic.Int64
		reads   atomic.Int64
		walPeak atomic.Int64
		wg      sync.WaitGroup
	)
	start := time.Now()
	loadEnd := start.Add(cfg.load)
	errs := make(chan error, cfg.visitors+1)
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := visitor(ctx, c, cfg.perFrame, start, loadEnd, interval, func(n int, sent, done time.Time) {
				acked.Add(int64(n))
				mu.Lock()
				window = append(window, done.Sub(sent))
				mu.Unlock()
			})
			if err != nil {
				errs <- err
			}
		}()
	}
	// One operator reading history the whole time: a read transaction
	// holds its snapshot of the WAL, so checkpoints must live with readers.
	// The list of visits is indexed; an unfiltered GET /v1/events sorts
	// every event, takes seconds on millions, and holds the log that long.
	wg.Add(1)
	go func() {
		defer wg.Done()
		client := &http.Client{Timeout: 30 * time.Second}
		for !cfg.noReader && time.Now().Before(loadEnd) {
			req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+col.addr+"/v1/visits?limit=100", nil)
			req.Header.Set("Authorization", "Bearer "+adminToken)
			resp, err := client.Do(req)
			if err != nil {
				errs <- fmt.Errorf("reader: %w", err)
				return
			}
			resp.Body.Close()
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("reader: GET /v1/visits: %s", resp.Status)
				return
			}
			reads.Add(1)
			time.Sleep(100 * time.Millisecond)
		}
	}()

	// The WAL is sampled often for its peak, reported every cfg.every.
	sample := time.NewTicker(100 * time.Millisecond)
	defer sample.Stop()
	report := time.NewTicker(cfg.every)
	defer report.Stop()
	end := loadEnd.Add(cfg.idle)
	var lastAcked int64
	var loadWALPeak int64
	for done := false; !done; {
		select {
		case <-sample.C:
			sz := fileSize(wal)
			if sz > walPeak.Load() {
				walPeak.Store(sz)
			}
			if time.Now().Before(loadEnd) {
				loadWALPeak = max(loadWALPeak, sz)
			}
		case <-report.C:
			mu.Lock()
			w := window
			window = nil
			all = append(all, w...)
			mu.Unlock()
			n := acked.Load()
			phase := "load"
			if time.Now().After(loadEnd) {
				phase = "idle"
			}
			fmt.Printf("t=%4.0fs %s  WAL %9s (peak %9s)  RSS %9s  %6.0f events/s  ack p99 %s  reads %d  %s  %s\n",
				time.Since(start).Seconds(), phase, mb(fileSize(wal)), mb(walPeak.Load()), mb(col.rss()),
				float64(n-lastAcked)/cfg.every.Seconds(), p99(w), reads.Load(), col.walRestarts(), probe.take())
			lastAcked = n
			walPeak.Store(0)
			done = !time.Now().Before(end)
		case err := <-errs:
			return fmt.Errorf("soak load: %w", err)
		}
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return fmt.Errorf("soak load: %w", err)
	}
	endWAL := fileSize(wal)
	fmt.Printf("soak: %d events acked, ack p99 %s over the load; WAL peak under load %s (bound %s), %s at the end (bound %s)\n",
		acked.Load(), p99(all), mb(loadWALPeak), mb(cfg.maxWALLoad), mb(endWAL), mb(cfg.maxWALIdle))
	var fails []string
	if loadWALPeak > cfg.maxWALLoad {
		fails = append(fails, fmt.Sprintf("WAL reached %s under load (bound %s)", mb(loadWALPeak), mb(cfg.maxWALLoad)))
	}
	if endWAL > cfg.maxWALIdle {
		fails = append(fails, fmt.Sprintf("WAL is %s %s after the load (bound %s)", mb(endWAL), cfg.idle, mb(cfg.maxWALIdle)))
	}
	if len(fails) > 0 {
		return errors.New("soak failed: " + strings.Join(fails, "; "))
	}
	fmt.Println("soak: PASS")
	return nil
}

func rateLabel(rate int) string {
	if rate == 0 {
		return "back to back"
	}
	return fmt.Sprintf("paced at %d events/s", rate)
}

func p99(d []time.Duration) string { return quantile(d, 0.99) }

// quantile is the q-quantile of d (nearest rank below), rounded.
// latencies merges the clients' latencies, sorted, and returns them with
// their quantile function (q(0.99) is the p99); q must not be called on
// an empty result.
func latencies(perClient [][]time.Duration) (all []time.Duration, q func(p float64) time.Duration) {
	for _, l := range perClient {
		all = append(all, l...)
	}
	slices.Sort(all)
	return all, func(p float64) time.Duration { return all[int(p*float64(len(all)-1))] }
}

func quantile(d []time.Duration, q float64) string {
	if len(d) == 0 {
		return "-"
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[int(q*float64(len(d)-1))].Round(100 * time.Microsecond).String()
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// walRestarts reads the log's restarts from the collector's /metrics, as
// "restarts N (M given up)" and the writer's checkpoints, or "" from a
// collector without them. It is called once per report window.
func (c *collectorProc) walRestarts() string {
	req, _ := http.NewRequest("GET", "http://"+c.addr+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		return ""
	}
	var done, gaveUp, stalls, stalled string
	for line := range strings.Lines(string(b)) {
		name, v, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch name {
		case "visitrack_wal_restarts_total":
			done = v
		case "visitrack_wal_restarts_given_up_total":
			gaveUp = v
		case "visitrack_wal_writer_checkpoints_total":
			stalls = v
		case "visitrack_wal_writer_checkpoint_seconds_total":
			stalled = v
		}
	}
	if done == "" {
		return ""
	}
	out := "restarts " + done + " (" + gaveUp + " given up)"
	if n, err := strconv.ParseFloat(stalls, 64); err == nil && n > 0 {
		total, _ := strconv.ParseFloat(stalled, 64)
		// The window's own checkpoints: an average since the start hides
		// a slow minute.
		dn, dt := n-c.lastStalls, total-c.lastStalled
		c.lastStalls, c.lastStalled = n, total
		out += fmt.Sprintf(", writer checkpoints %.0f", n)
		if dn > 0 {
			out += fmt.Sprintf(" (%.1f ms each in this window)", dt/dn*1000)
		}
	}
	return out
}
