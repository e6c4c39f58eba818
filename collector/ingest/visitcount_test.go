package ingest_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestVisitEventCountIsExact: the event count a visit carries (kept by
// ingest, read by the visits list) equals the visit's stored events after
// every kind of batch: new events (counted in Go), a resend among new
// events and identity events (counted in SQL), several visits in one
// commit, natively and in Direct mode (the edge, where requests overlap
// without transactions). The stats rollups count each stored event once
// too.
func TestVisitEventCountIsExact(t *testing.T) {
	for mode, open := range map[string]func(*testing.T) *store.Store{
		"native": func(t *testing.T) *store.Store { return storetest.New(t) },
		"direct": func(t *testing.T) *store.Store { return storetest.NewD1Like(t) },
	} {
		t.Run(mode, func(t *testing.T) { testVisitEventCount(t, open(t), mode == "direct") })
	}
}

func testVisitEventCount(t *testing.T, st *store.Store, direct bool) {
	ctx := context.Background()
	in := ingesttest.Start(t, ingest.Config{Store: st, VisitTimeout: 30 * time.Minute, Direct: direct})
	page, otherPage := ulid.Make().String(), ulid.Make().String()
	var eventOn func(page, id, name, data string) json.RawMessage
	event := func(id, name string, data string) json.RawMessage { return eventOn(page, id, name, data) }
	eventOn = func(page, id, name string, data string) json.RawMessage {
		e := protocol.Event{EventID: id, Name: name, PageID: page,
			Timestamp: time.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"), URL: "https://shop.example/"}
		if data != "" {
			e.Data = protocol.RawJSON(data)
		}
		b, _ := json.Marshal(e)
		return b
	}
	ids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = ulid.Make().String()
		}
		return out
	}
	collect := func(c ingest.Client, events ...json.RawMessage) *ingest.Result {
		t.Helper()
		res, err := in.Collect(ctx, c, "", events)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Ack.Rejected) > 0 {
			t.Fatalf("rejected: %+v", res.Ack.Rejected)
		}
		return res
	}
	check := func(step, visitID string, want int) {
		t.Helper()
		v, err := st.FindVisit(ctx, visitID)
		if err != nil {
			t.Fatal(err)
		}
		var stored int
		if err := st.DB().QueryRowContext(ctx, `SELECT count(*) FROM events WHERE visit_id = ?`, visitID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if v.EventCount != want || stored != want {
			t.Fatalf("%s: eventCount %d, %d events stored; want %d", step, v.EventCount, stored, want)
		}
	}

	first := ids(3)
	res := collect(ingest.Client{}, event(first[0], protocol.EventPageEntered, ""),
		event(first[1], "AddToCart", `{"sku":"A-1"}`), event(first[2], "AddToCart", `{"sku":"B-2"}`))
	c := ingest.Client{VisitorID: res.Visit.VisitorID, VisitID: res.Visit.VisitID, VisitorKey: res.Visit.VisitorKey}
	check("three new events", c.VisitID, 3)

	collect(c, event(first[1], "AddToCart", `{"sku":"A-1"}`), event(first[2], "AddToCart", `{"sku":"B-2"}`),
		event(ulid.Make().String(), "AddToCart", `{"sku":"C-3"}`))
	check("two resends and one new event", c.VisitID, 4)

	collect(c, event(ulid.Make().String(), protocol.EventSignIn, `{"userId":"ada@example.com"}`),
		event(ulid.Make().String(), "Search", `{"q":"shoes"}`))
	check("an identity event and a business event", c.VisitID, 6)

	// An identity event, counted from the high water read before it, and
	// a resend beside a new event, counted from the one after it.
	collect(c, event(ulid.Make().String(), protocol.EventUserInfo, `{"userId":"ada@example.com"}`),
		event(first[0], protocol.EventPageEntered, ""), event(ulid.Make().String(), "Search", `{"q":"hats"}`))
	check("an identity event, a resend and a new event", c.VisitID, 8)
	collect(c, event(first[1], "AddToCart", `{"sku":"A-1"}`), event(first[2], "AddToCart", `{"sku":"B-2"}`))
	check("only resends", c.VisitID, 8)

	// Two browsers at once: their events may share a commit.
	other := collect(ingest.Client{}, eventOn(otherPage, ulid.Make().String(), protocol.EventPageEntered, ""))
	o := ingest.Client{VisitorID: other.Visit.VisitorID, VisitID: other.Visit.VisitID, VisitorKey: other.Visit.VisitorKey}
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := in.Collect(ctx, c, "", []json.RawMessage{event(ulid.Make().String(), "Scroll", "")}); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := in.Collect(ctx, o, "", []json.RawMessage{eventOn(otherPage, ulid.Make().String(), "Scroll", ""),
				eventOn(otherPage, ulid.Make().String(), "Scroll", "")}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	check("ten concurrent batches", c.VisitID, 18)
	check("the other visit's concurrent batches", o.VisitID, 21)

	// The stats rollups count the same rows once each too.
	sum, err := st.Summary(ctx, collector.StatsFilter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour),
		Bots: collector.BotsInclude})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Events != 39 || sum.Pageviews != 2 {
		t.Fatalf("stats: %d events, %d pageviews; want 39 and 2", sum.Events, sum.Pageviews)
	}
}
