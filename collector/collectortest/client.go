package collectortest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/oklog/ulid/v2"
	"github.com/visitrack/visitrack/shared/protocol"
)

// Client is a tracker stand-in speaking the wire protocol over a real
// WebSocket.
type Client struct {
	t    testing.TB
	Conn *websocket.Conn
	// Welcome is the last welcome received.
	Welcome protocol.Welcome
	// Pushed holds the visitorData frames that arrived while Expect waited
	// for another type: pushes interleave with answers.
	Pushed []protocol.VisitorDataView
}

// NewID returns a new ULID.
func NewID() string { return ulid.Make().String() }

// Dial connects to the collector's /v1/ws with the visitrack.v1
// subprotocol and sends hello.
func Dial(t testing.TB, wsURL string, hello protocol.Hello) *Client {
	t.Helper()
	c, _ := DialWith(t, wsURL, nil, hello)
	return c
}

// DialWith is Dial with request headers (Origin, Cookie); it also returns
// the handshake answer, whose headers may set cookies.
func DialWith(t testing.TB, wsURL string, header http.Header, hello protocol.Hello) (*Client, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}, HTTPHeader: header})
	if err != nil {
		t.Fatalf("dial %s: %v", wsURL, err)
	}
	conn.SetReadLimit(4 << 20)
	c := &Client{t: t, Conn: conn}
	t.Cleanup(func() { conn.CloseNow() })
	hello.Type = protocol.TypeHello
	c.Send(hello)
	c.Expect(protocol.TypeWelcome, &c.Welcome)
	return c, resp
}

// Send writes one frame.
func (c *Client) Send(v any) {
	c.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		c.t.Fatal(err)
	}
	c.SendRaw(b)
}

// SendRaw writes one text frame as is.
func (c *Client) SendRaw(b []byte) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// Read returns the next frame's type and bytes.
func (c *Client) Read() (string, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, b, err := c.Conn.Read(ctx)
	if err != nil {
		return "", nil, err
	}
	var env protocol.Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return "", b, fmt.Errorf("frame is not JSON: %s", b)
	}
	return env.Type, b, nil
}

// Expect reads the next frame, which must be of type typ, into v.
// visitorData frames that come first are kept in Pushed.
func (c *Client) Expect(typ string, v any) {
	c.t.Helper()
	got, b, err := c.Read()
	for err == nil && got == protocol.TypeVisitorData && typ != protocol.TypeVisitorData {
		var vd protocol.VisitorDataView
		json.Unmarshal(b, &vd)
		c.Pushed = append(c.Pushed, vd)
		got, b, err = c.Read()
	}
	if err != nil {
		c.t.Fatalf("waiting for %s: %v", typ, err)
	}
	if got != typ {
		c.t.Fatalf("got %s frame %s, want %s", got, b, typ)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			c.t.Fatalf("%s: %v", typ, err)
		}
	}
}

// Event returns a valid event named name on page pageID, now.
func Event(name, pageID string, data any) protocol.Event {
	e := protocol.Event{EventID: NewID(), Name: name, PageID: pageID,
		Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"}
	if data != nil {
		b, _ := json.Marshal(data)
		e.Data = b
	}
	return e
}

// SendEvents sends an events frame and returns its ack, plus the identity
// frame that precedes it when the batch changed the identity (pass
// wantIdentity; nil otherwise).
func (c *Client) SendEvents(wantIdentity bool, events ...protocol.Event) (protocol.Ack, *protocol.Identity) {
	c.t.Helper()
	c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano), Events: events})
	var id *protocol.Identity
	if wantIdentity {
		id = new(protocol.Identity)
		c.Expect(protocol.TypeIdentity, id)
	}
	var ack protocol.Ack
	c.Expect(protocol.TypeAck, &ack)
	return ack, id
}
