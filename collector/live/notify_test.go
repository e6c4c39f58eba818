package live_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/shared/protocol"
)

// notifyAnswer is the 202 answer of POST /v1/visits/{visitId}/notifications.
type notifyAnswer struct {
	ID        string `json:"id"`
	Delivered int    `json:"delivered"`
}

// expectNotification reads frames until a notification arrives; the
// frames before it (pushes) are skipped.
func expectNotification(t *testing.T, c *collectortest.Client) protocol.Notification {
	t.Helper()
	for {
		typ, b, err := c.Read()
		if err != nil {
			t.Fatalf("waiting for a notification: %v", err)
		}
		if typ == protocol.TypeNotification {
			var n protocol.Notification
			if err := json.Unmarshal(b, &n); err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
}

// A backend's notification reaches both open pages of the visit, and no
// page of another visit: the other visit's page still sees its own
// notification as the first frame after the first one went out.
func TestNotificationReachesTheVisitsOpenPages(t *testing.T) {
	col := collectortest.Start(t)
	visitor, visit := collectortest.NewID(), collectortest.NewID()
	tab1 := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit})
	// The second tab of the same browser presents the key the first got.
	tab2 := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: tab1.Welcome.VisitorKey})
	if tab1.Welcome.VisitID != tab2.Welcome.VisitID {
		t.Fatalf("two tabs got visits %s and %s", tab1.Welcome.VisitID, tab2.Welcome.VisitID)
	}
	other := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})

	status, b := col.Do("POST", "/v1/visits/"+visit+"/notifications",
		map[string]any{"channel": "chat", "data": map[string]any{"text": "An agent can help you", "n": 1}})
	if status != 202 {
		t.Fatalf("notify: %d %s", status, b)
	}
	var ans notifyAnswer
	if err := json.Unmarshal(b, &ans); err != nil || ans.Delivered != 2 || !protocol.IsULID(ans.ID) {
		t.Fatalf("answer %s, want delivered 2 and a ULID id", b)
	}
	for _, c := range []*collectortest.Client{tab1, tab2} {
		n := expectNotification(t, c)
		if n.ID != ans.ID || n.Channel != "chat" || string(n.Data) != `{"n":1,"text":"An agent can help you"}` {
			t.Errorf("frame %+v (data %s), want id %s on chat", n, n.Data, ans.ID)
		}
	}

	// The other visit gets only what is sent to it.
	status, b = col.Do("POST", "/v1/visits/"+other.Welcome.VisitID+"/notifications", map[string]any{"channel": "offer", "data": "10%"})
	if status != 202 || !strings.Contains(string(b), `"delivered":1`) {
		t.Fatalf("notify other: %d %s", status, b)
	}
	if n := expectNotification(t, other); n.Channel != "offer" || string(n.Data) != `"10%"` {
		t.Errorf("other visit's first notification: %+v %s", n, n.Data)
	}

	// A closed tab is no longer counted.
	tab2.Conn.CloseNow()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, b = col.Do("POST", "/v1/visits/"+visit+"/notifications", map[string]any{"channel": "chat"})
		json.Unmarshal(b, &ans)
		if ans.Delivered == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after closing one tab: %s, want delivered 1", b)
		}
		time.Sleep(20 * time.Millisecond) // the collector notices the close on its own time
	}
	if n := expectNotification(t, tab1); n.Channel != "chat" || string(n.Data) != "null" {
		t.Errorf("data left out: %+v %s, want null", n, n.Data)
	}
}

// A visit that is stored but has no open page answers delivered 0; bad
// requests get problems and send nothing.
func TestNotificationErrors(t *testing.T) {
	col := collectortest.Start(t, "--visit-timeout", "1s")
	visitor := collectortest.NewID()
	c := collectortest.Dial(t, col.WSURL(), protocol.Hello{VisitorID: visitor, VisitID: collectortest.NewID()})
	visit := c.Welcome.VisitID
	path := "/v1/visits/" + visit + "/notifications"

	cases := []struct {
		name   string
		path   string
		body   any
		status int
		detail string
	}{
		{"unknown visit", "/v1/visits/" + collectortest.NewID() + "/notifications", map[string]any{"channel": "chat"}, 404, "not found"},
		{"not a ULID", "/v1/visits/nope/notifications", map[string]any{"channel": "chat"}, 400, "ULID"},
		{"no channel", path, map[string]any{"data": 1}, 400, "channel is required"},
		{"bad channel", path, map[string]any{"channel": "Chat"}, 400, "channel must match"},
		{"long channel", path, map[string]any{"channel": "a" + strings.Repeat("b", 64)}, 400, "channel must match"},
		{"unknown field", path, map[string]any{"channel": "chat", "date": 1}, 400, "unknown field"},
		{"not JSON", path, "{", 400, "send"},
		{"two values", path, `{"channel":"chat"} {}`, 400, "one JSON object"},
		{"too deep", path, `{"channel":"chat","data":` + strings.Repeat("[", 17) + strings.Repeat("]", 17) + `}`, 400, "deeper"},
		{"data over 16 KiB", path, map[string]any{"channel": "chat", "data": strings.Repeat("x", 16<<10)}, 413, "16384"},
		{"body over 64 KiB", path, map[string]any{"channel": "chat", "data": strings.Repeat("x", 70<<10)}, 413, "larger"},
	}
	for _, tc := range cases {
		status, b := col.Do("POST", tc.path, tc.body)
		if status != tc.status || !strings.Contains(string(b), tc.detail) {
			t.Errorf("%s: %d %s, want %d with %q", tc.name, status, b, tc.status, tc.detail)
		}
	}
	// Exactly 16 KiB of data is accepted.
	data := strings.Repeat("x", 16<<10-2)
	if status, b := col.Do("POST", path, map[string]any{"channel": "chat", "data": data}); status != 202 {
		t.Fatalf("16 KiB: %d %s", status, b)
	}
	if n := expectNotification(t, c); len(n.Data) != 16<<10 {
		t.Errorf("16 KiB data arrived as %d bytes", len(n.Data))
	}
	if status, b := col.Do("POST", path, `{"channel":"chat"}`, "Content-Type", "text/plain"); status != 415 {
		t.Errorf("text/plain: %d %s", status, b)
	}

	// Scopes: notify:write may notify; history:read may not.
	s, closeDB, err := daemon.OpenStore(col.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer closeDB()
	_, notifier, err := s.CreateToken(context.Background(), []string{"notify:write"})
	if err != nil {
		t.Fatal(err)
	}
	_, reader, _ := s.CreateToken(context.Background(), []string{"history:read"})
	if status, b := collectortest.Request(t, col.URL(), reader, "POST", path, map[string]any{"channel": "chat"}); status != 403 {
		t.Errorf("history:read token: %d %s, want 403", status, b)
	}
	if status, b := collectortest.Request(t, col.URL(), notifier, "POST", path, map[string]any{"channel": "chat"}); status != 202 ||
		!strings.Contains(string(b), `"delivered":1`) {
		t.Errorf("notify:write token: %d %s, want 202 delivered 1", status, b)
	}

	// The page goes away: delivered 0. Then the visit ends: 409.
	c.Conn.CloseNow()
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, b := col.Do("POST", path, map[string]any{"channel": "chat"})
		if status == 202 && strings.Contains(string(b), `"delivered":0`) {
			break
		}
		if time.Now().After(deadline) || status != 202 {
			t.Fatalf("after the page closed: %d %s, want 202 delivered 0", status, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		status, b := col.Do("POST", path, map[string]any{"channel": "chat"})
		if status == 409 {
			if !strings.Contains(string(b), "ended") || !strings.Contains(string(b), visitor) {
				t.Errorf("ended visit: %s", b)
			}
			break
		}
		if time.Now().After(deadline.Add(20*time.Second)) || status != 202 {
			t.Fatalf("waiting for the visit to end: %d %s", status, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
