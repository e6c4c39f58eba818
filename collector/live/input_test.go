package live_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestResendIsStoredOnce: the tracker resends after a lost ack; each
// eventId is stored once, SignIn's side effects included.
func TestResendIsStoredOnce(t *testing.T) {
	col := collectortest.Start(t)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	a := collectortest.Event("Browse", "", nil)
	signIn := collectortest.Event(protocol.EventSignIn, "", map[string]any{"userId": "ada"})
	c.SendEvents(true, a, signIn)
	// Twice in the same frame, and again in later frames.
	ack, _ := c.SendEvents(true, a, a, signIn)
	eq(t, "acked resend", len(ack.EventIDs), 3)
	c.SendEvents(true, signIn, a)

	var evs list[event]
	col.Get("/v1/visits/"+c.Welcome.VisitID+"/events", &evs)
	eq(t, "events", fmt.Sprint(names(evs.Items)), "[Browse SignIn]")
	var sessions list[session]
	col.Get("/v1/visits/"+c.Welcome.VisitID+"/sessions", &sessions)
	eq(t, "sessions", len(sessions.Items), 2)
}

// TestBadEventsRejectedAlone: every per-event rule rejects that event in
// the ack and stores its good neighbours.
func TestBadEventsRejectedAlone(t *testing.T) {
	col := collectortest.Start(t)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})

	deep := map[string]any{}
	for i, m := 0, deep; i < 20; i++ {
		n := map[string]any{}
		m["x"] = n
		m = n
	}
	big := collectortest.Event("Big", "", map[string]any{"blob": strings.Repeat("x", 17<<10)})
	tooDeep := collectortest.Event("Deep", "", deep)
	badID := collectortest.Event("BadID", "", nil)
	badID.EventID = "not-a-ulid"
	noName := collectortest.Event("", "", nil)
	badTime := collectortest.Event("BadTime", "", nil)
	badTime.Timestamp = "yesterday"
	ended := collectortest.Event(protocol.EventVisitEnded, "", nil)
	pageNoID := collectortest.Event(protocol.EventPageEntered, "", nil)
	signInNoUser := collectortest.Event(protocol.EventSignIn, "", map[string]any{"name": "x"})
	notObject := collectortest.Event("Scalar", "", nil)
	notObject.Data = protocol.RawJSON(`[1,2]`)
	sql := collectortest.Event("Robert'); DROP TABLE events;--", "", map[string]any{"q": "' OR 1=1 --"})
	good1, good2 := collectortest.Event("Good", "", nil), collectortest.Event("Good", "", nil)

	ack, _ := c.SendEvents(false, good1, big, tooDeep, badID, noName, badTime, ended, pageNoID, signInNoUser, notObject, sql, good2)
	eq(t, "acked", fmt.Sprint(ack.EventIDs), fmt.Sprint([]string{good1.EventID, sql.EventID, good2.EventID}))
	// (History orders by time: sql was made before good1.)
	want := map[string]string{
		big.EventID: protocol.CodeTooLarge, tooDeep.EventID: protocol.CodeTooDeep, "": protocol.CodeInvalidID,
		noName.EventID: protocol.CodeInvalidEvent, badTime.EventID: protocol.CodeInvalidEvent,
		ended.EventID: protocol.CodeInvalidEvent, pageNoID.EventID: protocol.CodeInvalidEvent,
		signInNoUser.EventID: protocol.CodeInvalidEvent, notObject.EventID: protocol.CodeInvalidEvent,
	}
	eq(t, "rejected", len(ack.Rejected), len(want))
	for _, r := range ack.Rejected {
		id := r.EventID
		if id == badID.EventID {
			id = ""
		}
		if want[id] != r.Code || r.Message == "" {
			t.Errorf("rejection %+v, want code %s", r, want[id])
		}
	}
	var evs list[event]
	col.Get("/v1/visits/"+c.Welcome.VisitID+"/events", &evs)
	eq(t, "stored", fmt.Sprint(names(evs.Items)), "[Robert'); DROP TABLE events;-- Good Good]")
	eq(t, "sql data", evs.Items[0].Data["q"], any("' OR 1=1 --"))
}

// TestBadFrames: frame-level problems get an error frame (or a close code)
// and the connection, and everyone else, keeps working.
func TestBadFrames(t *testing.T) {
	col := collectortest.Start(t)
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})

	cases := map[string]struct {
		frame []byte
		code  string
	}{
		"malformed":    {[]byte(`{"type":"events",`), protocol.CodeInvalidMessage},
		"not object":   {[]byte(`[1,2,3]`), protocol.CodeInvalidMessage},
		"no type":      {[]byte(`{"events":[]}`), protocol.CodeInvalidMessage},
		"unknown type": {[]byte(`{"type":"selfDestruct"}`), protocol.CodeUnknownType},
		"events type":  {[]byte(`{"type":"events","events":{"a":1}}`), protocol.CodeInvalidMessage},
	}
	many := protocol.Events{Type: protocol.TypeEvents}
	for range 501 {
		many.Events = append(many.Events, collectortest.Event("E", "", nil))
	}
	b, _ := json.Marshal(many)
	cases["501 events"] = struct {
		frame []byte
		code  string
	}{b, protocol.CodeTooManyEvents}

	for name, tc := range cases {
		c.SendRaw(tc.frame)
		var e protocol.Error
		c.Expect(protocol.TypeError, &e)
		if e.Code != tc.code {
			t.Errorf("%s: error code %q, want %q (%s)", name, e.Code, tc.code, e.Message)
		}
	}
	// Still serving this connection.
	ack, _ := c.SendEvents(false, collectortest.Event("After", "", nil))
	eq(t, "acked after errors", len(ack.EventIDs), 1)

	// Over 1 MiB: close 1009, and others are unaffected.
	other := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	c.SendRaw(bytes.Repeat([]byte(" "), protocol.MaxBatchBytes+1))
	_, _, err := c.Read()
	eq(t, "close status", websocket.CloseStatus(err), websocket.StatusMessageTooBig)
	ack, _ = other.SendEvents(false, collectortest.Event("Other", "", nil))
	eq(t, "other acked", len(ack.EventIDs), 1)
}

// TestHelloFirst: a frame before hello closes with 1008.
func TestHelloFirst(t *testing.T) {
	col := collectortest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	conn.Write(ctx, websocket.MessageText, []byte(`{"type":"events","events":[]}`))
	_, _, err = conn.Read(ctx)
	eq(t, "close status", websocket.CloseStatus(err), websocket.StatusPolicyViolation)

	// Without the subprotocol: 1008 too.
	conn2, _, err := websocket.Dial(ctx, col.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn2.CloseNow()
	_, _, err = conn2.Read(ctx)
	eq(t, "no subprotocol close", websocket.CloseStatus(err), websocket.StatusPolicyViolation)
}

// TestOrigin: --allowed-origins admits listed pages and refuses others
// with 403, on both transports.
func TestOrigin(t *testing.T) {
	col := collectortest.Start(t, "--allowed-origins", "https://shop.example")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dial := func(origin string) (int, error) {
		h := http.Header{}
		h.Set("Origin", origin)
		conn, resp, err := websocket.Dial(ctx, col.WSURL(), &websocket.DialOptions{Subprotocols: []string{protocol.Subprotocol}, HTTPHeader: h})
		if conn != nil {
			conn.CloseNow()
		}
		if resp == nil {
			return 0, err
		}
		return resp.StatusCode, err
	}
	if status, err := dial("https://evil.example"); status != http.StatusForbidden || err == nil {
		t.Fatalf("foreign origin: %d %v", status, err)
	}
	if status, err := dial("https://shop.example"); err != nil || status != http.StatusSwitchingProtocols {
		t.Fatalf("allowed origin: %d %v", status, err)
	}
	body := `{"visitorId":"","visitId":"","events":[]}`
	status, b := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect", body, "Origin", "https://evil.example")
	if status != http.StatusForbidden || !strings.Contains(string(b), "origin") {
		t.Fatalf("collect from foreign origin: %d %s", status, b)
	}
}
