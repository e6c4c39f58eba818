package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/shared/protocol"
)

// frameMaker writes one visitor's events frames. The generator shares the
// machine's two cores with the collector, so a frame is encoded once and
// then only its times and event ids are written over in place; the ack
// that names every event of the frame, in order, is kept beside it, so
// that checking an ack is one comparison of bytes.
type frameMaker struct {
	frame, ack []byte
	// timeAt are the offsets of sentAt and the timestamps in frame; idAt
	// those of the event ids in frame, ackIDAt in ack.
	timeAt, idAt, ackIDAt []int
	// visitor is the ids' random part, which keeps the visitors' ids
	// apart; seq counts the visitor's events.
	visitor [8]byte
	seq     uint64
}

// crockford is the ULID alphabet.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// rfc3339Milli is the browser's time format; in UTC it is 24 bytes long.
const rfc3339Milli = "2006-01-02T15:04:05.000Z07:00"

// newFrameMaker prepares the frames of n Click events on page.
func newFrameMaker(page string, n int, rnd *rand.Rand) *frameMaker {
	m := &frameMaker{}
	for i := range m.visitor {
		m.visitor[i] = crockford[rnd.IntN(32)]
	}
	const ts, id = "2006-01-02T15:04:05.000Z", "00000000000000000000000000"
	b := append([]byte(nil), `{"type":"events","sentAt":"`...)
	m.timeAt = append(m.timeAt, len(b))
	b = append(b, ts+`","events":[`...)
	a := append([]byte(nil), `{"type":"ack","eventIds":[`...)
	for k := range n {
		if k > 0 {
			b, a = append(b, ','), append(a, ',')
		}
		b = append(b, `{"eventId":"`...)
		m.idAt = append(m.idAt, len(b))
		b = append(b, id+`","name":"Click","timestamp":"`...)
		m.timeAt = append(m.timeAt, len(b))
		b = append(b, ts+`","pageId":"`+page+`","url":"https://shop.example/p/1","data":{"button":"buy","n":1}}`...)
		a = append(a, '"')
		m.ackIDAt = append(m.ackIDAt, len(a))
		a = append(a, id+`"`...)
	}
	m.frame, m.ack = append(b, "]}"...), append(a, `],"rejected":[]}`...)
	return m
}

// next returns the next frame, sent at now, with new event ids (ULIDs of
// now). It is valid until the next call.
func (m *frameMaker) next(now time.Time) []byte {
	var buf [32]byte
	// The result, not buf: AppendFormat may write the fraction elsewhere.
	ts := now.UTC().AppendFormat(buf[:0], rfc3339Milli)
	for _, at := range m.timeAt {
		copy(m.frame[at:at+24], ts)
	}
	var id [26]byte
	ms := uint64(now.UnixMilli())
	for i := range 10 {
		id[i] = crockford[ms>>(45-5*i)&31]
	}
	copy(id[10:], m.visitor[:])
	for k, at := range m.idAt {
		m.seq++
		for i := range 8 {
			id[18+i] = crockford[m.seq>>(35-5*i)&31]
		}
		copy(m.frame[at:], id[:])
		copy(m.ack[m.ackIDAt[k]:], id[:])
	}
	return m.frame
}

// acked checks the ack of the last frame and returns how many of its
// events it names as stored. The common ack, every event stored, is the
// kept one byte for byte; any other is decoded, and each event of the
// frame must be in it, stored or rejected, and nothing else.
func (m *frameMaker) acked(msg []byte) (int, error) {
	if bytes.Equal(msg, m.ack) {
		return len(m.idAt), nil
	}
	var a protocol.Ack
	if err := json.Unmarshal(msg, &a); err != nil {
		return 0, fmt.Errorf("ack: %w: %s", err, msg)
	}
	named := len(a.EventIDs) + len(a.Rejected)
	stored := 0
	for _, at := range m.idAt {
		id := string(m.frame[at : at+26])
		switch {
		case slices.Contains(a.EventIDs, id):
			stored++
		case slices.ContainsFunc(a.Rejected, func(r protocol.Rejection) bool { return r.EventID == id }):
		default:
			return 0, fmt.Errorf("the ack does not name event %s: %s", id, msg)
		}
	}
	if named != len(m.idAt) {
		return 0, fmt.Errorf("the ack names %d events, the frame had %d: %s", named, len(m.idAt), msg)
	}
	return stored, nil
}

// readAck reads frames, into buf, until the ack, and returns how many
// events of the last frame of m it names as stored.
func readAck(ctx context.Context, c *websocket.Conn, buf *bytes.Buffer, m *frameMaker) (int, error) {
	for {
		_, r, err := c.Reader(ctx)
		if err != nil {
			return 0, err
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return 0, err
		}
		msg := buf.Bytes()
		if bytes.HasPrefix(msg, []byte(`{"type":"ack"`)) {
			return m.acked(msg)
		}
		if bytes.HasPrefix(msg, []byte(`{"type":"error"`)) {
			return 0, fmt.Errorf("collector: %s", msg)
		}
	}
}
