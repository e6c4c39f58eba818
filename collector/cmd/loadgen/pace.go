package main

import (
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
// frame's send and ack times to acked.
func visitor(ctx context.Context, c *websocket.Conn, perFrame int, start, until time.Time, interval time.Duration,
	acked func(sent, done time.Time)) error {
	page := ulid.Make().String()
	var b []byte
	next := start
	if interval > 0 {
		next = start.Add(time.Duration(rand.Int64N(int64(interval))))
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
		b = appendFrame(b[:0], page, perFrame, now)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			return err
		}
		if err := readAck(ctx, c); err != nil {
			return err
		}
		acked(now, time.Now())
	}
}
