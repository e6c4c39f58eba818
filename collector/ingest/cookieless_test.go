package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestCookielessVisitors: a cookieless browser's visitor is derived from
// site, address and user agent for one UTC day: the same browser keeps
// its visit that day, another browser does not share it, and after the
// salt's rotation the same browser is a visitor nobody can join to the
// day before. Such visits have no key, recognition or identity events,
// and their derived visitor cannot be claimed with a key.
func TestCookielessVisitors(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	signer, err := identity.NewSigner([]byte(strings.Repeat("k", 32)), 0, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 5, 1, 22, 0, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	in, err := ingest.New(ingest.Config{Store: st, Signer: signer, VisitTimeout: 30 * time.Minute, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close(ctx)
	event := func(name string, data any) json.RawMessage {
		e := protocol.Event{EventID: ulid.Make().String(), Name: name, PageID: ulid.Make().String(),
			Timestamp: now().Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"}
		if data != nil {
			e.Data, _ = json.Marshal(data)
		}
		b, _ := json.Marshal(e)
		return b
	}
	browser := ingest.Client{Cookieless: true, Site: "https://shop.example", IP: "203.0.113.5", UserAgent: "Firefox/133"}
	send := func(c ingest.Client, events ...json.RawMessage) *ingest.Result {
		t.Helper()
		res, err := in.Collect(ctx, c, "", events)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	first := send(browser, event(protocol.EventPageEntered, nil))
	if !first.Visit.Cookieless || first.Visit.VisitorKey != "" || first.Visit.State != protocol.StateAnonymous {
		t.Fatalf("cookieless visit %+v: want cookieless, anonymous, no key", first.Visit)
	}
	// Whatever ids and token it names are ignored.
	tok := "v2.forged"
	named := browser
	named.VisitorID, named.VisitID, named.Recognition = ulid.Make().String(), ulid.Make().String(), &tok
	advance(time.Minute)
	again := send(named, event(protocol.EventPageEntered, nil), event(protocol.EventSignIn, map[string]any{"userId": "ada@example.com"}))
	if again.Visit.VisitID != first.Visit.VisitID || again.Visit.VisitorID != first.Visit.VisitorID {
		t.Fatalf("the same browser the same day: visit %s, want %s", again.Visit.VisitID, first.Visit.VisitID)
	}
	if len(again.Ack.EventIDs) != 1 || len(again.Ack.Rejected) != 1 || again.Ack.Rejected[0].Code != protocol.CodeInvalidEvent {
		t.Fatalf("ack %+v: want the page view stored and the SignIn refused", again.Ack)
	}
	other := browser
	other.UserAgent = "Chrome/131"
	if res := send(other, event(protocol.EventPageEntered, nil)); res.Visit.VisitorID == first.Visit.VisitorID {
		t.Fatal("two browsers share a cookieless visitor")
	}
	// The derived id is no key: naming it without cookieless gets a new visitor.
	claim := send(ingest.Client{VisitorID: first.Visit.VisitorID, VisitID: first.Visit.VisitID, VisitorKey: strings.Repeat("A", 32)},
		event("Browse", nil))
	if claim.Visit.VisitorID == first.Visit.VisitorID || claim.Visit.VisitID == first.Visit.VisitID {
		t.Fatalf("a browser took over the cookieless visitor: %+v", claim.Visit)
	}

	// After midnight UTC, a new salt: the same browser is someone new.
	advance(3 * time.Hour)
	next := send(browser, event(protocol.EventPageEntered, nil))
	if next.Visit.VisitorID == first.Visit.VisitorID || next.Visit.VisitID == first.Visit.VisitID {
		t.Fatalf("the next day the browser is still visitor %s", first.Visit.VisitorID)
	}
	// Not even the derived part may match: it would join the two days.
	if next.Visit.VisitorID[10:] == first.Visit.VisitorID[10:] {
		t.Fatalf("visitors %s and %s share their derived part: the salt did not rotate", first.Visit.VisitorID, next.Visit.VisitorID)
	}
	if !strings.HasPrefix(next.Visit.VisitorID, ulid.MustNew(ulid.Timestamp(time.Date(2026, 5, 2, 0, 0, 0, 0, time.UTC)), zero{}).String()[:10]) {
		t.Errorf("visitor id %s does not carry its day", next.Visit.VisitorID)
	}
}

type zero struct{}

func (zero) Read(p []byte) (int, error) { clear(p); return len(p), nil }
