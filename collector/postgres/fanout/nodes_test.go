package fanout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const secret = "fanout-test-identity-secret-0123456789"

// node is a real collector on the shared test database, with its log.
type node struct {
	*daemon.Main
	t   testing.TB
	log *logBuffer
}

// logBuffer keeps a collector's log for the test to read.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// twoNodes starts two collectors on one fresh database. They share a data
// directory, which holds the recognition key and the admin token: a
// token one issues verifies on the other.
func twoNodes(t testing.TB) (a, b *node, url string) {
	t.Helper()
	url = pgtest.NewDatabase(t)
	dir := t.TempDir()
	return start(t, url, dir), start(t, url, dir), url
}

func start(t testing.TB, url, dir string) *node {
	t.Helper()
	log := &logBuffer{}
	m := daemon.New(log, log)
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--database", url, "--allowed-origins", collectortest.Origin,
		"--identity-secret", secret, "--log-level", "warn"}
	if err := m.ParseFlags(args, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("collector run: %v\n%s", err, log.b.String())
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("collector close: %v", err)
		}
	})
	return &node{Main: m, t: t, log: log}
}

func (n *node) ws() string { return "ws://" + n.Addr() + "/v1/ws" }

func (n *node) do(method, path string, body any, header ...string) (int, []byte) {
	n.t.Helper()
	return collectortest.Request(n.t, n.URL(), n.AdminToken, method, path, body, header...)
}

func (n *node) patch(path, body string) {
	n.t.Helper()
	if status, b := n.do("PATCH", path, body, "Content-Type", "application/merge-patch+json"); status != 200 {
		n.t.Fatalf("PATCH %s: %d %s", path, status, b)
	}
}

// next reads frames until one of type typ arrives, within d.
func next(t testing.TB, c *collectortest.Client, typ string, d time.Duration) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	for {
		_, b, err := c.Conn.Read(ctx)
		if err != nil {
			return nil, err
		}
		var env protocol.Envelope
		if json.Unmarshal(b, &env) == nil && env.Type == typ {
			return b, nil
		}
	}
}

// waitData reads visitor-data frames until ok holds for one.
func waitData(t testing.TB, c *collectortest.Client, what string, ok func(protocol.VisitorDataView) bool) {
	t.Helper()
	for {
		b, err := next(t, c, protocol.TypeVisitorData, 10*time.Second)
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		var vd protocol.VisitorDataView
		if err := json.Unmarshal(b, &vd); err != nil {
			t.Fatal(err)
		}
		if ok(vd) {
			return
		}
	}
}

// quiet checks that no frame arrives on c for a while.
func quiet(t testing.TB, c *collectortest.Client, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, b, err := c.Conn.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("%s: got %s (%v), want no frame", what, b, err)
	}
}

func dial(t testing.TB, n *node, visitor, visit string) *collectortest.Client {
	t.Helper()
	return collectortest.Dial(t, n.ws(), protocol.Hello{VisitorID: visitor, VisitID: visit})
}

// A backend's write through node A reaches the subject's socket on node
// B, and A's own socket once: A ignores its own announcement.
func TestVisitorDataWriteReachesTheOtherNode(t *testing.T) {
	a, b, _ := twoNodes(t)
	visitor := collectortest.NewID()
	onB := dial(t, b, visitor, collectortest.NewID())
	onA := collectortest.Dial(t, a.ws(), protocol.Hello{VisitorID: visitor, VisitID: onB.Welcome.VisitID, VisitorKey: onB.Welcome.VisitorKey})

	a.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"theme":"dark"}`)
	for _, c := range []*collectortest.Client{onB, onA} {
		waitData(t, c, "version 1", func(vd protocol.VisitorDataView) bool {
			return vd.Version == 1 && string(vd.Data) == `{"prefs":{"theme":"dark"}}`
		})
	}

	// And the other way round.
	b.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"theme":"light"}`)
	for _, c := range []*collectortest.Client{onA, onB} {
		waitData(t, c, "version 2", func(vd protocol.VisitorDataView) bool {
			return vd.Version == 2 && strings.Contains(string(vd.Data), "light")
		})
	}
	// B's own announcement brings nothing twice (a read ends the
	// socket when its deadline passes, so this comes last).
	quiet(t, onB, "node B's socket after its own write")
}

// A notification posted to node A reaches the visit's pages on both
// nodes, whole (16 KiB does not fit in a NOTIFY), and delivered counts
// both; one posted to B for a visit open only on A counts A's page.
func TestNotificationCountsThePagesOfEveryNode(t *testing.T) {
	a, b, _ := twoNodes(t)
	visitor, visit := collectortest.NewID(), collectortest.NewID()
	tab1 := dial(t, a, visitor, visit)
	tab2 := collectortest.Dial(t, b.ws(), protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: tab1.Welcome.VisitorKey})
	tab3 := collectortest.Dial(t, b.ws(), protocol.Hello{VisitorID: visitor, VisitID: visit, VisitorKey: tab1.Welcome.VisitorKey})
	if tab2.Welcome.VisitID != visit || tab3.Welcome.VisitID != visit {
		t.Fatalf("tabs on B got visits %s, %s, want %s", tab2.Welcome.VisitID, tab3.Welcome.VisitID, visit)
	}
	big := strings.Repeat("x", 16*1024-64)
	status, body := a.do("POST", "/v1/visits/"+visit+"/notifications", map[string]any{"channel": "chat", "data": map[string]any{"text": big}})
	var ans struct {
		ID        string `json:"id"`
		Delivered int    `json:"delivered"`
	}
	if status != 202 || json.Unmarshal(body, &ans) != nil || ans.Delivered != 3 {
		t.Fatalf("notify through A: %d %s, want delivered 3 (one page on A, two on B)", status, body)
	}
	for i, c := range []*collectortest.Client{tab1, tab2, tab3} {
		f, err := next(t, c, protocol.TypeNotification, 10*time.Second)
		if err != nil {
			t.Fatalf("tab %d: %v", i+1, err)
		}
		var n protocol.Notification
		if err := json.Unmarshal(f, &n); err != nil || n.ID != ans.ID || n.Channel != "chat" || !strings.Contains(string(n.Data), big) {
			t.Fatalf("tab %d got %.200s", i+1, f)
		}
	}

	other := dial(t, a, collectortest.NewID(), collectortest.NewID())
	status, body = b.do("POST", "/v1/visits/"+other.Welcome.VisitID+"/notifications", map[string]any{"channel": "chat", "data": 1})
	if status != 202 || json.Unmarshal(body, &ans) != nil || ans.Delivered != 1 {
		t.Fatalf("notify through B, page on A: %d %s, want delivered 1", status, body)
	}
	if _, err := next(t, other, protocol.TypeNotification, 10*time.Second); err != nil {
		t.Fatal(err)
	}
}

// An erasure through A makes B's socket of the subject take the erased
// document, and the versions that start again from 1 after it.
func TestErasureResyncsTheOtherNode(t *testing.T) {
	a, b, _ := twoNodes(t)
	visitor := collectortest.NewID()
	onB := dial(t, b, visitor, collectortest.NewID())
	for _, theme := range []string{"dark", "light", "blue"} {
		a.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"theme":"`+theme+`"}`)
	}
	waitData(t, onB, "version 3", func(vd protocol.VisitorDataView) bool { return vd.Version == 3 })
	if status, body := a.do("DELETE", "/v1/visitors/"+visitor, nil); status != 204 {
		t.Fatalf("erase: %d %s", status, body)
	}
	waitData(t, onB, "the erased document", func(vd protocol.VisitorDataView) bool {
		return vd.Version == 0 && string(vd.Data) == "{}"
	})
	onB.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil))
	a.patch("/v1/visitors/"+visitor+"/visitor-data/prefs", `{"theme":"green"}`)
	waitData(t, onB, "version 1 after the erasure", func(vd protocol.VisitorDataView) bool {
		return vd.Version == 1 && strings.Contains(string(vd.Data), "green")
	})
}

func proven(user string) map[string]any {
	return map[string]any{"userId": user, "userHash": identity.UserHash(secret, user)}
}

// Two tabs share a verified visit, one connected to A, one to B; a
// SignOut in A's tab moves B's off the identity's document at once.
func TestSignOutOnOneNodeDemotesTheTabOnTheOther(t *testing.T) {
	a, b, _ := twoNodes(t)
	first := dial(t, a, collectortest.NewID(), collectortest.NewID())
	_, id := first.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven("ada")))
	identityID := *id.IdentityID
	w := first.Welcome
	second := collectortest.Dial(t, b.ws(), protocol.Hello{VisitorID: w.VisitorID, VisitorKey: w.VisitorKey, VisitID: w.VisitID, Recognition: id.Recognition})
	if second.Welcome.VisitID != w.VisitID || !second.Welcome.Verified {
		t.Fatalf("the second tab, on B, with the token: %+v", second.Welcome)
	}
	const iban = "DE02120300000000202051"
	a.patch("/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`"}`)
	waitData(t, second, "the identity's document on B", func(vd protocol.VisitorDataView) bool {
		return strings.Contains(string(vd.Data), iban)
	})

	first.SendEvents(true, collectortest.Event(protocol.EventSignOut, "", nil))
	f, err := next(t, second, protocol.TypeIdentity, 10*time.Second)
	if err != nil {
		t.Fatalf("B's tab after the SignOut on A: %v", err)
	}
	if !strings.Contains(string(f), `"state":"anonymous"`) || strings.Contains(string(f), identityID) {
		t.Fatalf("B's tab's identity frame: %s", f)
	}
	waitData(t, second, "the visitor's own document on B", func(vd protocol.VisitorDataView) bool {
		return !strings.Contains(string(vd.Data), iban)
	})
	a.patch("/v1/identities/"+identityID+"/visitor-data/bank", `{"iban":"`+iban+`-2"}`)
	quiet(t, second, "B's tab after the SignOut, when the identity's document changes")
}

// A merge through A reaches a page on B that is open as the merged-away
// identity: B's writer drops the visits it cached, so the page's next
// events are filed under the identity it was merged into.
func TestMergeThroughOneNodeReachesTheOther(t *testing.T) {
	a, b, _ := twoNodes(t)
	signIn := func(n *node, user string) (*collectortest.Client, string) {
		c := dial(t, n, collectortest.NewID(), collectortest.NewID())
		_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, collectortest.NewID(), proven(user)))
		if id == nil || id.IdentityID == nil {
			t.Fatalf("SignIn of %s: %+v", user, id)
		}
		return c, *id.IdentityID
	}
	_, ada := signIn(a, "ada@example.com")
	tab, bea := signIn(b, "bea@example.com")
	tab.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil)) // B caches the visit

	status, body := a.do("POST", "/v1/identities/"+ada+"/merge", map[string]string{"from": bea})
	var merge struct {
		MergeID string `json:"mergeId"`
	}
	if status != 200 || json.Unmarshal(body, &merge) != nil || merge.MergeID == "" {
		t.Fatalf("merge: %d %s", status, body)
	}
	// The merge answered after B dropped its cache: the page's next
	// events name ada, and it hears so with their ack.
	if id := sendSeeingIdentity(t, tab); id == nil || id.IdentityID == nil || *id.IdentityID != ada {
		t.Fatalf("B's page after the merge on A: identity frame %+v, want %s", id, ada)
	}
}

// sendSeeingIdentity sends one event and reads up to its ack, returning
// the identity frame before it, if any.
func sendSeeingIdentity(t testing.TB, c *collectortest.Client) *protocol.Identity {
	t.Helper()
	c.Send(protocol.Events{Type: protocol.TypeEvents, SentAt: time.Now().UTC().Format(time.RFC3339Nano),
		Events: []protocol.Event{collectortest.Event("AddToCart", collectortest.NewID(), nil)}})
	var id *protocol.Identity
	for {
		typ, b, err := c.Read()
		if err != nil {
			t.Fatalf("waiting for the ack: %v", err)
		}
		switch typ {
		case protocol.TypeIdentity:
			id = new(protocol.Identity)
			if err := json.Unmarshal(b, id); err != nil {
				t.Fatal(err)
			}
		case protocol.TypeAck:
			return id
		}
	}
}
