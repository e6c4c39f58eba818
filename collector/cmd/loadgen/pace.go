package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"
)

// visitor is one browser of a load: on one page, it sends a frame of
// perFrame events, waits for the ack, and repeats, at once (interval 0)
// or at its next tick, every interval from a random start, like browsers
// that act independently. It stops at until, and reports each acked
// frame's send and ack times, with the events the ack names as stored,
// to acked.
func visitor(ctx context.Context, c *websocket.Conn, perFrame int, start, until time.Time, interval time.Duration,
	acked func(n int, sent, done time.Time)) error {
	rnd := rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	frames := newFrameMaker(ulid.Make().String(), perFrame, rnd)
	var buf bytes.Buffer
	next := start
	if interval > 0 {
		next = start.Add(time.Duration(rnd.Int64N(int64(interval))))
	}
	for {
		if interval > 0 {
			time.Sleep(time.Until(next))
			next = next.Add(interval)
		}
		now := time.Now()
		if now.After(until) {
			return nil
		}
		if err := c.Write(ctx, websocket.MessageText, frames.next(now)); err != nil {
			return err
		}
		n, err := readAck(ctx, c, &buf, frames)
		if err != nil {
			return err
		}
		acked(n, now, time.Now())
	}
}
