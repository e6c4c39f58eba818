//go:build js && wasm

package main

// loop runs the agent on one goroutine. JavaScript callbacks must not
// block, so they only post work here. Go's js/wasm runtime
// lets every woken goroutine run before it returns to JavaScript, so work
// posted from a pagehide handler (the beacon) is done before the page goes.
//
// js/wasm has one thread and no asynchronous preemption: goroutines switch
// only where one blocks, never inside post or between run's reads of q, so
// q needs no mutex (sync.Mutex would cost the download a few KB).
type loop struct {
	q    []func()
	wake chan struct{}
}

func newLoop() *loop { return &loop{wake: make(chan struct{}, 1)} }

// post queues f; it never blocks.
func (l *loop) post(f func()) {
	l.q = append(l.q, f)
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// run does the posted work forever.
func (l *loop) run() {
	for range l.wake {
		for {
			q := l.q
			l.q = nil
			if len(q) == 0 {
				break
			}
			for _, f := range q {
				f()
			}
		}
	}
}
