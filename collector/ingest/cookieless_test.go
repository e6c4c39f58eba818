package ingest_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/enrich/geoip"
	"github.com/visitrack/visitrack/collector/enrich/geoip/geoiptest"
	"github.com/visitrack/visitrack/collector/enrich/useragent"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/ingest/ingesttest"
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

// browserVisit is what one browser sends: from its address, with its user
// agent, a landing URL and referrer that name a person, and a second page
// whose URL does too.
type browserVisit struct {
	ip, userAgent, landing, referrer, page, email string
}

// TestCookielessStoresNothingThatIdentifies: of a cookieless visit the
// store keeps no address, no user agent, no query or fragment of any URL,
// no path of a referrer, no region or city and no full browser version,
// in the visit, its events and its pages; the campaign fields parsed from
// the landing URL's query stay, with the browser and OS family, device
// type and country. A consented visit keeps all of it, as before.
func TestCookielessStoresNothingThatIdentifies(t *testing.T) {
	ctx := context.Background()
	st := storetest.New(t)
	geoPath := filepath.Join(t.TempDir(), "city.mmdb")
	if err := geoiptest.WriteCity(geoPath, map[string]enrich.Location{
		"203.0.113.0/24": {Country: "NL", Region: "NL-NH", City: "Zaandam"},
	}); err != nil {
		t.Fatal(err)
	}
	geo, err := geoip.Open(geoPath)
	if err != nil {
		t.Fatal(err)
	}
	defer geo.Close()
	in := ingesttest.Start(t, ingest.Config{Store: st, Enricher: enrich.New(useragent.New(), geo)})

	cookieless := browserVisit{ip: "203.0.113.77", email: "alice@example.com",
		userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36",
		landing:   "https://shop.example/landing?email=alice%40example.com&utm_source=news&gclid=Cj0-click#tok=alice",
		referrer:  "https://search.example/results?q=alice+private",
		page:      "https://shop.example/cart?email=alice%40example.com"}
	consented := browserVisit{ip: "203.0.113.78", email: "bob@example.com",
		userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0.4",
		landing:   "https://shop.example/landing?email=bob%40example.com&utm_source=news",
		referrer:  "https://search.example/results?q=bob+private",
		page:      "https://shop.example/cart?email=bob%40example.com"}
	visit := func(b browserVisit, isCookieless bool) string {
		t.Helper()
		c := ingest.Client{Cookieless: isCookieless, Site: "https://shop.example", IP: b.ip, UserAgent: b.userAgent,
			URL: b.landing, Referrer: b.referrer}
		send := func(url, referrer string) *ingest.Result {
			e := protocol.Event{EventID: ulid.Make().String(), Name: protocol.EventPageEntered, PageID: ulid.Make().String(),
				Timestamp: time.Now().UTC().Format(time.RFC3339Nano), URL: url, Referrer: referrer, Title: "Cart"}
			raw, _ := json.Marshal(e)
			res, err := in.Collect(ctx, c, "", []json.RawMessage{raw})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Ack.EventIDs) != 1 {
				t.Fatalf("ack %+v", res.Ack)
			}
			c.VisitorID, c.VisitID, c.VisitorKey = res.Visit.VisitorID, res.Visit.VisitID, res.Visit.VisitorKey
			return res
		}
		first := send(b.landing, b.referrer)
		if next := send(b.page, b.landing); next.Visit.VisitID != first.Visit.VisitID {
			t.Fatalf("the second page opened visit %s, want %s", next.Visit.VisitID, first.Visit.VisitID)
		}
		return first.Visit.VisitID
	}
	cv, kv := visit(cookieless, true), visit(consented, false)

	v, err := st.FindVisit(ctx, cv)
	if err != nil {
		t.Fatal(err)
	}
	if v.LandingURL != "https://shop.example/landing" || v.Referrer != "https://search.example/" || v.UserAgent != "" {
		t.Errorf("cookieless visit keeps landing %q, referrer %q, user agent %q", v.LandingURL, v.Referrer, v.UserAgent)
	}
	if v.Browser != "Chrome" || v.BrowserVersion != "131" || v.OS != "Windows" || v.DeviceType != "desktop" ||
		v.Country != "NL" || v.Region != "" || v.City != "" || v.ReferrerType != "campaign" {
		t.Errorf("cookieless visit insight %+v: want Chrome 131 on Windows, desktop, NL and no region or city", v.VisitInsight)
	}
	if string(v.UTM) != `{"source":"news"}` || string(v.ClickIDs) != `{"gclid":"Cj0-click"}` {
		t.Errorf("cookieless visit campaign: utm %s, click ids %s", v.UTM, v.ClickIDs)
	}
	events, _, err := st.FindEvents(ctx, collector.EventFilter{VisitID: cv})
	if err != nil {
		t.Fatal(err)
	}
	pages, _, err := st.FindPages(ctx, cv, collector.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || len(pages) != 2 {
		t.Fatalf("cookieless visit has %d events and %d pages, want 2 of each", len(events), len(pages))
	}
	for i, want := range []struct{ url, referrer string }{
		{"https://shop.example/landing", "https://search.example/"},
		{"https://shop.example/cart", "https://shop.example/"},
	} {
		if e := events[i]; e.URL != want.url || e.Referrer != want.referrer {
			t.Errorf("cookieless event %d: url %q, referrer %q; want %q, %q", i, e.URL, e.Referrer, want.url, want.referrer)
		}
		if p := pages[i]; p.URL != want.url || p.Referrer != want.referrer {
			t.Errorf("cookieless page %d: url %q, referrer %q; want %q, %q", i, p.URL, p.Referrer, want.url, want.referrer)
		}
	}

	k, err := st.FindVisit(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	if k.LandingURL != consented.landing || k.Referrer != consented.referrer || k.UserAgent != consented.userAgent ||
		k.BrowserVersion != "133.0.4" || k.Region != "NL-NH" || k.City != "Zaandam" {
		t.Errorf("consented visit %+v: want what the browser sent, as before", k)
	}

	// Every stored byte of the two visits: the consented one's markers are
	// there, which shows the scan sees what is stored.
	markers := func(b browserVisit) map[string]string {
		return map[string]string{"IP": b.ip, "user agent": b.userAgent, "e-mail": url.QueryEscape(b.email),
			"referrer path": "/results", "fragment": "tok=", "city": "Zaandam", "region": "NL-NH"}
	}
	for _, c := range []struct {
		visitID string
		b       browserVisit
		stored  bool
	}{{cv, cookieless, false}, {kv, consented, true}} {
		stored := storedText(t, st.DB(), c.visitID)
		for what, m := range markers(c.b) {
			if what == "fragment" || c.stored && (what == "city" || what == "region") {
				continue // never sent by the consented browser; kept in its own columns
			}
			if strings.Contains(stored, m) != c.stored {
				t.Errorf("visit %s (cookieless %v): %s %q stored: %v", c.visitID, !c.stored, what, m, !c.stored)
			}
		}
	}
}

// storedText is every column of the visit's rows in visits, events and
// pages, as text.
func storedText(t *testing.T, db *sql.DB, visitID string) string {
	t.Helper()
	var b strings.Builder
	for _, table := range []string{"visits", "events", "pages"} {
		rows, err := db.Query(`SELECT * FROM `+table+` WHERE visit_id = ?`, visitID)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				fmt.Fprintf(&b, "%s.%s=%s\n", table, cols[i], v)
			}
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}
