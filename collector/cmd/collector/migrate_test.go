package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/postgres/pgtest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// startNode runs a collector in this process with the given flags and
// environment, on a loopback port, until the test ends or stop is called.
func startNode(t *testing.T, env map[string]string, flags ...string) (m *daemon.Main, stop func()) {
	t.Helper()
	m = daemon.New(io.Discard, io.Discard)
	args := append([]string{"--addr", "127.0.0.1:0", "--allowed-origins", collectortest.Origin,
		"--log-level", "warn", "--identity-secret", programSecret}, flags...)
	if err := m.ParseFlags(args, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("collector flags: %v", err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("collector run: %v", err)
	}
	done := false
	stop = func() {
		if done {
			return
		}
		done = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Errorf("collector close: %v", err)
		}
	}
	t.Cleanup(stop)
	return m, stop
}

// answers reads each path of the History API with token.
func answers(t *testing.T, base, token string, paths []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, p := range paths {
		status, body := collectortest.Request(t, base, token, "GET", p, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, status, body)
		}
		out[p] = string(body)
	}
	return out
}

// The History API answers the same before and after the move, with the
// API tokens of before; the browsers' keys and recognition tokens of
// before still work on the collector that serves PostgreSQL: the source's
// recognition key is the key its collectors share, with no variable set.
func TestMigrateKeepsTheHistory(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().UTC()

	// A SQLite collector sees two browsers: one signs in and gets visitor
	// data and metadata, the other stays anonymous.
	src, stopSrc := startNode(t, nil, "--data-dir", dir)
	ws := "ws://" + src.Addr() + "/v1/ws"
	a := collectortest.Dial(t, ws, protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), URL: "https://shop.example/"})
	pageA := collectortest.NewID()
	a.SendEvents(false, collectortest.Event(protocol.EventPageEntered, pageA, nil),
		collectortest.Event("AddToCart", pageA, map[string]any{"sku": "A-1", "qty": 2}))
	_, id := a.SendEvents(true, collectortest.Event(protocol.EventSignIn, pageA,
		map[string]any{"userId": "ada@example.com", "userHash": identity.UserHash(programSecret, "ada@example.com")}))
	if id == nil || id.Recognition == nil || id.IdentityID == nil {
		t.Fatalf("SignIn answered %+v, want a recognition token", id)
	}
	token, identityID := *id.Recognition, *id.IdentityID
	visitorA, keyA, visitA := a.Welcome.VisitorID, a.Welcome.VisitorKey, a.Welcome.VisitID
	b := collectortest.Dial(t, ws, protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	pageB := collectortest.NewID()
	b.SendEvents(false, collectortest.Event(protocol.EventPageEntered, pageB, nil), collectortest.Event("Click", pageB, map[string]any{"id": "buy"}))
	for _, w := range []struct{ path, body string }{
		{"/v1/identities/" + identityID + "/visitor-data/crm", `{"tier":"gold","since":2019}`},
		{"/v1/visits/" + visitA + "/metadata", `{"agent":"kim","notes":["called back"]}`},
	} {
		if status, body := collectortest.Request(t, src.URL(), src.AdminToken, "PUT", w.path, w.body); status/100 != 2 {
			t.Fatalf("PUT %s: %d %s", w.path, status, body)
		}
	}
	a.Conn.CloseNow()
	b.Conn.CloseNow()
	admin := src.AdminToken
	stopSrc()

	since := start.Truncate(time.Hour).Add(-time.Hour).Format(time.RFC3339)
	until := start.Truncate(time.Hour).Add(2 * time.Hour).Format(time.RFC3339)
	period := "since=" + since + "&until=" + until
	paths := []string{
		"/v1/visits", "/v1/visits/" + visitA, "/v1/visits/" + visitA + "/pages", "/v1/visits/" + visitA + "/events",
		"/v1/visits/" + visitA + "/sessions", "/v1/visits/" + visitA + "/identities", "/v1/visits/" + visitA + "/metadata",
		"/v1/pages/" + pageA, "/v1/pages/" + pageA + "/events", "/v1/pages/" + pageB + "/events",
		"/v1/events", "/v1/events?name=AddToCart", "/v1/events?limit=2",
		"/v1/identities", "/v1/identities/" + identityID, "/v1/identities/" + identityID + "/visits",
		"/v1/identities/" + identityID + "/events", "/v1/identities/" + identityID + "/pages",
		"/v1/identities/" + identityID + "/merges", "/v1/identities/" + identityID + "/visitor-data",
		"/v1/stats/summary?" + period, "/v1/stats/timeseries?metric=events&interval=minute&" + period,
		"/v1/stats/breakdown?dimension=page&" + period, "/v1/export/events", "/v1/export/visits",
	}
	// Read the history back from the quiet SQLite collector.
	again, stopAgain := startNode(t, nil, "--data-dir", dir)
	before := answers(t, again.URL(), admin, paths)
	stopAgain()

	u := pgtest.NewDatabase(t)
	var out, errOut bytes.Buffer
	if err := run([]string{"migrate", "--from", dir, "--to", u}, func(string) string { return "" }, &out, &errOut); err != nil {
		t.Fatalf("collector migrate: %v\n%s%s", err, out.String(), errOut.String())
	}
	keyFile := filepath.Join(dir, "recognition.key")
	for _, want := range []string{"copy events: ", "verify events: ", "copied and verified ", keyFile + " is now the key the collectors of this database share"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the command's output has no %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "\r") {
		t.Errorf("the output to a file rewrites lines in place:\n%q", out.String())
	}
	// A collector on PostgreSQL with a data directory of its own and no
	// key in its environment: it takes the key the database shares.
	pg, _ := startNode(t, nil, "--data-dir", t.TempDir(), "--database", u)
	after := answers(t, pg.URL(), admin, paths)
	for _, p := range paths {
		if !jsonEqual(before[p], after[p]) {
			t.Errorf("GET %s differs after the move:\nbefore %s\nafter  %s", p, before[p], after[p])
		}
	}

	// The browsers of before: A's key still proves A, and its recognition
	// token still recognizes Ada.
	ws = "ws://" + pg.Addr() + "/v1/ws"
	c := collectortest.Dial(t, ws, protocol.Hello{VisitorID: visitorA, VisitorKey: keyA, VisitID: collectortest.NewID()})
	if c.Welcome.VisitorID != visitorA {
		t.Errorf("browser A's key is refused after the move: welcome %+v", c.Welcome)
	}
	c.Conn.CloseNow()
	r := collectortest.Dial(t, ws, protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID(), Recognition: &token})
	if w := r.Welcome; w.State != protocol.StateRecognized || w.IdentityID == nil || *w.IdentityID != identityID {
		t.Errorf("the recognition token of before is not recognized after the move: welcome %+v, want identity %s", w, identityID)
	}
	r.Conn.CloseNow()

}

// jsonEqual compares two JSON documents by value.
func jsonEqual(a, b string) bool {
	var x, y any
	if json.Unmarshal([]byte(a), &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return a == b
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
