package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// diskProbe times a small synced write on the collector's filesystem at a
// steady pace, so that a soak's slow windows can be told apart: the
// collector's own doing, or a disk that was slow for everyone (a shared
// virtual machine's disk can take ten times longer to flush from one
// minute to the next). It writes one 4 KiB block over and over, about 20
// times a second: next to the collector's tens of megabytes a second,
// nothing.
type diskProbe struct {
	f      *os.File
	block  []byte
	every  time.Duration
	mu     sync.Mutex
	window []time.Duration
	err    error
}

// startDiskProbe starts probing in dir until ctx ends.
func startDiskProbe(ctx context.Context, dir string, every time.Duration) (*diskProbe, error) {
	f, err := os.Create(filepath.Join(dir, "disk-probe"))
	if err != nil {
		return nil, fmt.Errorf("disk probe: %w", err)
	}
	p := &diskProbe{f: f, block: make([]byte, 4096), every: every}
	go p.run(ctx)
	return p, nil
}

func (p *diskProbe) run(ctx context.Context) {
	defer p.f.Close()
	t := time.NewTicker(p.every)
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.block[0] = byte(i) // a change, so the write dirties the page
		start := time.Now()
		_, err := p.f.WriteAt(p.block, 0)
		if err == nil {
			err = p.f.Sync()
		}
		took := time.Since(start)
		p.mu.Lock()
		if err != nil && p.err == nil {
			p.err = err
		}
		p.window = append(p.window, took)
		p.mu.Unlock()
	}
}

// take returns the probe's timings since the last call, as "disk sync
// p50 X max Y", or the probe's error.
func (p *diskProbe) take() string {
	p.mu.Lock()
	w, err := p.window, p.err
	p.window = nil
	p.mu.Unlock()
	if err != nil {
		return "disk probe: " + err.Error()
	}
	if len(w) == 0 {
		return "disk sync -"
	}
	var worst time.Duration
	for _, d := range w {
		worst = max(worst, d)
	}
	return "disk sync p50 " + quantile(w, 0.5) + " max " + worst.Round(100*time.Microsecond).String()
}
