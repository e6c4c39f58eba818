package live_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// racyData is the real visitor-data service, with a hook that runs once
// right after a chosen call returned: a backend's write that lands in that
// instant, the race a test wants to provoke deterministically.
type racyData struct {
	collector.VisitorDataService
	mu                 sync.Mutex
	afterGet, afterPut func()
	afterStitch        func(identityID string)
}

func take(mu *sync.Mutex, f *func()) func() {
	mu.Lock()
	defer mu.Unlock()
	g := *f
	*f = nil
	if g == nil {
		return func() {}
	}
	return g
}

func (r *racyData) GetVisitorData(ctx context.Context, s collector.Subject) (*collector.VisitorData, error) {
	vd, err := r.VisitorDataService.GetVisitorData(ctx, s)
	take(&r.mu, &r.afterGet)()
	return vd, err
}

func (r *racyData) StitchVisitorData(ctx context.Context, visitorID, identityID string) (*collector.VisitorData, error) {
	vd, err := r.VisitorDataService.StitchVisitorData(ctx, visitorID, identityID)
	r.mu.Lock()
	f := r.afterStitch
	r.afterStitch = nil
	r.mu.Unlock()
	if f != nil {
		f(identityID)
	}
	return vd, err
}

func (r *racyData) PutNamespace(ctx context.Context, s collector.Subject, ns string, v json.RawMessage) (*collector.VisitorData, error) {
	vd, err := r.VisitorDataService.PutNamespace(ctx, s, ns, v)
	take(&r.mu, &r.afterPut)()
	return vd, err
}

func (r *racyData) set(f *func(), g func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	*f = g
}

// orderRig is a hub wired as the server wires it, on a real store, with
// racyData between the hub and the store.
type orderRig struct {
	t    *testing.T
	data *racyData
	real *store.VisitorData
	url  string
}

func newOrderRig(t *testing.T) *orderRig {
	t.Helper()
	s := storetest.New(t)
	signer, err := identity.NewSigner([]byte(strings.Repeat("k", 32)), 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	real := store.NewVisitorData(s)
	data := &racyData{VisitorDataService: real}
	in, err := ingest.New(ingest.Config{Store: s, Signer: signer, VisitorData: data, IdentitySecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(context.Background()) })
	hub := live.New(live.Config{Ingester: in, VisitorData: data, BrowserWritable: []string{"prefs"}, AllowedOrigins: []string{"*"}})
	real.AddListener(hub)
	srv := httptest.NewServer(http.HandlerFunc(hub.ServeWS))
	t.Cleanup(srv.Close)
	return &orderRig{t: t, data: data, real: real, url: "ws" + strings.TrimPrefix(srv.URL, "http")}
}

// write is a backend's namespace write, straight to the store.
func (r *orderRig) write(s collector.Subject, ns, value string) *collector.VisitorData {
	r.t.Helper()
	vd, err := r.real.PatchNamespace(context.Background(), s, ns, json.RawMessage(value), nil)
	if err != nil {
		r.t.Fatalf("write %s/%s: %v", s.Key(), ns, err)
	}
	return vd
}

// waitFor reads frames (first those Expect kept aside) until a
// visitorData frame satisfies ok, and fails after 30 s without one.
func waitFor(t *testing.T, c *collectortest.Client, what string, ok func(protocol.VisitorDataView) bool) {
	t.Helper()
	for _, vd := range c.Pushed {
		if ok(vd) {
			return
		}
	}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, b, err := c.Conn.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		var vd protocol.VisitorDataView
		if json.Unmarshal(b, &vd) == nil && vd.Type == protocol.TypeVisitorData && ok(vd) {
			return
		}
	}
}

func version(n int64) func(protocol.VisitorDataView) bool {
	return func(vd protocol.VisitorDataView) bool { return vd.Version == n }
}

// A backend's write that commits right after the welcome's snapshot was
// read is pushed to the new connection: it is not lost between the read
// and the subscription.
func TestWriteRightAfterWelcomeSnapshot(t *testing.T) {
	r := newOrderRig(t)
	hello := protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()}
	first := collectortest.Dial(t, r.url, hello)
	first.Conn.CloseNow()
	visitor := collector.Subject{Kind: collector.SubjectVisitor, ID: first.Welcome.VisitorID}
	r.write(visitor, "loyalty", `{"tier":"silver"}`)

	r.data.set(&r.data.afterGet, func() { r.write(visitor, "loyalty", `{"tier":"gold"}`) })
	hello.VisitID, hello.VisitorKey = first.Welcome.VisitID, first.Welcome.VisitorKey
	c := collectortest.Dial(t, r.url, hello)
	if c.Welcome.VisitorData.Version != 1 {
		t.Fatalf("welcome %+v, want the snapshot at version 1", c.Welcome.VisitorData)
	}
	waitFor(t, c, "the write after the snapshot", version(2))
}

// A write to the identity that commits between the stitch of a SignIn and
// the connection's switch to the identity reaches the browser, after the
// stitched snapshot and never before it.
func TestWriteRightAfterStitch(t *testing.T) {
	r := newOrderRig(t)
	c := collectortest.Dial(t, r.url, protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	visitor := collector.Subject{Kind: collector.SubjectVisitor, ID: c.Welcome.VisitorID}
	r.write(visitor, "prefs", `{"theme":"dark"}`)
	waitFor(t, c, "the visitor's data", version(1))

	r.data.mu.Lock()
	r.data.afterStitch = func(identityID string) {
		// The stitch wrote the identity's version 1; a backend writes 2.
		r.write(collector.Subject{Kind: collector.SubjectIdentity, ID: identityID}, "crm", `{"segment":"corporate"}`)
	}
	r.data.mu.Unlock()
	_, id := c.SendEvents(true, collectortest.Event(protocol.EventSignIn, "", proven("ann@example.com", nil)))
	if id == nil || id.IdentityID == nil || !id.Verified {
		t.Fatalf("identity after SignIn %+v", id)
	}
	waitFor(t, c, "the identity's write after the stitch", func(vd protocol.VisitorDataView) bool {
		var d map[string]map[string]string
		json.Unmarshal(vd.Data, &d)
		return vd.Version == 2 && d["crm"]["segment"] == "corporate" && d["prefs"]["theme"] == "dark"
	})
}

// A browser's update answered after a newer backend write was pushed does
// not take the browser back to the older version: versions go out in
// order, and the answer carries the newest document.
func TestUpdateAnswerAfterNewerPush(t *testing.T) {
	r := newOrderRig(t)
	c := collectortest.Dial(t, r.url, protocol.Hello{VisitorID: collectortest.NewID(), VisitID: collectortest.NewID()})
	visitor := collector.Subject{Kind: collector.SubjectVisitor, ID: c.Welcome.VisitorID}
	r.data.set(&r.data.afterPut, func() { r.write(visitor, "loyalty", `{"tier":"gold"}`) })
	c.Send(protocol.VisitorDataUpdate{Type: protocol.TypeVisitorDataUpdate, RequestID: "r1", Namespace: "prefs", Value: protocol.RawJSON(`{"theme":"dark"}`)})

	last := int64(0)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, b, err := c.Conn.Read(ctx)
		cancel()
		if err != nil {
			t.Fatalf("waiting for the answer to r1: %v", err)
		}
		var vd protocol.VisitorDataView
		if json.Unmarshal(b, &vd) != nil || vd.Type != protocol.TypeVisitorData {
			t.Fatalf("frame %s", b)
		}
		if vd.Version < last {
			t.Fatalf("visitorData went back from version %d to %d: %s", last, vd.Version, b)
		}
		last = vd.Version
		if vd.RequestID == "r1" {
			var d map[string]map[string]string
			json.Unmarshal(vd.Data, &d)
			if vd.Version != 2 || d["prefs"]["theme"] != "dark" || d["loyalty"]["tier"] != "gold" {
				t.Fatalf("answer to r1: %s, want version 2 with both writes", b)
			}
			return
		}
	}
}
