package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/oklog/ulid/v2"
)

// collectOrigin is the page origin the HTTP browsers send; the collector
// runs with --allowed-origins *.
const collectOrigin = "http://bench.example"

// collectConfig is the HTTP ingest run (-only collect): clients browsers,
// each posting one event per POST /v1/collect (text/plain, as sendBeacon
// does) and waiting for the answer, which comes after the commit. Each
// keeps the visitorId, visitorKey and visitId the collector answers with,
// so only its first request opens a visit. With baseline binaries
// (comma-separated), the collectors take turns, rounds times each, every
// turn on a fresh collector and data directory.
type collectConfig struct {
	bin              collectorBin
	baseline         string
	clients, rounds  int
	duration, warmup time.Duration
}

// collectResult is one turn of one collector.
type collectResult struct {
	rps        float64 // answered requests per second in the window
	cpuPerReq  time.Duration
	p50, p99   time.Duration
	requests   int64
	cpuSeconds float64
}

// collectRuns runs the turns and prints each, then the medians and spreads
// (and the ratio to the baseline).
func collectRuns(tmp string, cfg collectConfig) error {
	bins := []collectorBin{cfg.bin}
	for b := range strings.SplitSeq(cfg.baseline, ",") {
		if b = strings.TrimSpace(b); b != "" {
			bins = append(bins, collectorBin{path: b})
		}
	}
	results := make([][]collectResult, len(bins))
	for round := range cfg.rounds {
		for i, bin := range bins {
			dir := filepath.Join(tmp, fmt.Sprintf("collect-%d-%d", i, round))
			syscall.Sync()
			col, err := startCollector(bin, dir)
			if err != nil {
				return err
			}
			res, err := collectLoad(col, cfg.clients, cfg.duration, cfg.warmup)
			col.stop()
			os.RemoveAll(dir)
			if err != nil {
				return fmt.Errorf("collect load on %s: %w", bin.path, err)
			}
			results[i] = append(results[i], res)
			fmt.Printf("POST /v1/collect, %d browsers, 1 event/request, %s round %d: %7.0f req/s, CPU %6.1f µs/req, p50 %s p99 %s\n",
				cfg.clients, bin.path, round+1, res.rps, float64(res.cpuPerReq.Nanoseconds())/1000,
				res.p50.Round(100*time.Microsecond), res.p99.Round(100*time.Microsecond))
		}
	}
	med := make([]collectResult, len(bins))
	for i, bin := range bins {
		rps := make([]float64, len(results[i]))
		cpu := make([]float64, len(results[i]))
		p99s := make([]float64, len(results[i]))
		for k, r := range results[i] {
			rps[k], cpu[k], p99s[k] = r.rps, float64(r.cpuPerReq.Nanoseconds())/1000, float64(r.p99.Microseconds())/1000
		}
		med[i] = collectResult{rps: median(rps), cpuPerReq: time.Duration(median(cpu) * 1000)}
		fmt.Printf("collect %s: median %.0f req/s (spread %.0f–%.0f), CPU %.1f µs/req (%.1f–%.1f), p99 %.1f ms (%.1f–%.1f), %d rounds\n",
			bin.path, median(rps), slices.Min(rps), slices.Max(rps), median(cpu), slices.Min(cpu), slices.Max(cpu),
			median(p99s), slices.Min(p99s), slices.Max(p99s), len(rps))
	}
	for i := 1; i < len(bins); i++ {
		fmt.Printf("collect %s / %s: %.3f of the requests/s, %.3f of the CPU per request (medians)\n", bins[0].path, bins[i].path,
			med[0].rps/med[i].rps, float64(med[0].cpuPerReq)/float64(med[i].cpuPerReq))
	}
	return nil
}

// median of a non-empty slice (the mean of the middle two when even).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// collectLoad runs clients browsers against col for warmup+duration and
// measures the requests answered in the window after warmup, and the
// collector's CPU time in that window.
func collectLoad(col *collectorProc, clients int, duration, warmup time.Duration) (collectResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), warmup+duration+time.Minute)
	defer cancel()
	tr := &http.Transport{MaxIdleConns: clients, MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+duration)
	var answered atomic.Int64
	lat := make([][]time.Duration, clients)
	errs := make(chan error, clients)
	var cpuFrom float64
	var wg sync.WaitGroup
	wg.Go(func() {
		time.Sleep(time.Until(from))
		cpuFrom = col.cpuSeconds()
	})
	for i := range clients {
		wg.Go(func() {
			b := &browser{url: "http://" + col.addr + "/v1/collect", visitor: ulid.Make().String(),
				visit: ulid.Make().String(), page: ulid.Make().String()}
			for {
				sent := time.Now()
				if sent.After(to) {
					return
				}
				if err := b.post(ctx, client); err != nil {
					errs <- err
					return
				}
				done := time.Now()
				if sent.After(from) && done.Before(to) {
					answered.Add(1)
					lat[i] = append(lat[i], done.Sub(sent))
				}
			}
		})
	}
	time.Sleep(time.Until(to))
	cpuTo := col.cpuSeconds()
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return collectResult{}, err
	}
	all, q := latencies(lat)
	if len(all) == 0 {
		return collectResult{}, errors.New("no answer in the measured window")
	}
	n := answered.Load()
	cpu := cpuTo - cpuFrom
	return collectResult{rps: float64(n) / duration.Seconds(), requests: n, cpuSeconds: cpu,
		cpuPerReq: time.Duration(cpu / float64(n) * float64(time.Second)), p50: q(0.5), p99: q(0.99)}, nil
}

// browser is one tracker on one page posting over HTTP.
type browser struct {
	url                       string
	visitor, key, visit, page string
	body                      []byte
	answer                    bytes.Buffer
}

// post sends one Click and keeps the ids of the answer; anything but a 200
// acknowledging that event is an error.
func (b *browser) post(ctx context.Context, client *http.Client) error {
	ts := time.Now().UTC().AppendFormat(nil, "2006-01-02T15:04:05.000Z07:00")
	id := ulid.Make().String()
	b.body = append(b.body[:0], `{"visitorId":"`...)
	b.body = append(b.body, b.visitor...)
	b.body = append(b.body, `","visitorKey":"`...)
	b.body = append(b.body, b.key...)
	b.body = append(b.body, `","visitId":"`...)
	b.body = append(b.body, b.visit...)
	b.body = append(b.body, `","sentAt":"`...)
	b.body = append(b.body, ts...)
	b.body = append(b.body, `","events":[{"eventId":"`...)
	b.body = append(b.body, id...)
	b.body = append(b.body, `","name":"Click","timestamp":"`...)
	b.body = append(b.body, ts...)
	b.body = append(b.body, `","pageId":"`...)
	b.body = append(b.body, b.page...)
	b.body = append(b.body, `","url":"https://shop.example/p/1","data":{"button":"buy","n":1}}]}`...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, b.url, bytes.NewReader(b.body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	req.Header.Set("Origin", collectOrigin)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	b.answer.Reset()
	_, err = b.answer.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", resp.Status, b.answer.Bytes())
	}
	var ans struct {
		VisitorID  string `json:"visitorId"`
		VisitorKey string `json:"visitorKey"`
		VisitID    string `json:"visitId"`
		Ack        struct {
			EventIDs []string `json:"eventIds"`
		} `json:"ack"`
	}
	if err := json.Unmarshal(b.answer.Bytes(), &ans); err != nil {
		return fmt.Errorf("answer: %w: %s", err, b.answer.Bytes())
	}
	if len(ans.Ack.EventIDs) != 1 || !strings.EqualFold(ans.Ack.EventIDs[0], id) {
		return fmt.Errorf("event %s not acknowledged: %s", id, b.answer.Bytes())
	}
	b.visitor, b.key, b.visit = ans.VisitorID, ans.VisitorKey, ans.VisitID
	return nil
}

// cpuSeconds is the collector's user and system CPU time so far, from
// /proc/PID/stat (in USER_HZ ticks, 100 a second on Linux); 0 where /proc
// cannot tell.
func (c *collectorProc) cpuSeconds() float64 { return cpuSecondsOf(c.cmd.Process.Pid) }

// cpuSecondsOf is cpuSeconds for any process (loadgen's own: os.Getpid()).
func cpuSecondsOf(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// pid (comm) state ppid ... utime(14) stime(15): fields after the
	// comm, whose parenthesis may hide spaces.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100
}
