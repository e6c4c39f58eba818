package live_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/enrich/geoip/geoiptest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestCookielessOverHTTPAndWebSocket: a cookieless browser is counted on
// both transports, in one visit for the same site, address and user
// agent, and gets no key, no visitor data and no cookies; the visit says
// it is cookieless; a browser-writable namespace is refused to it.
func TestCookielessOverHTTPAndWebSocket(t *testing.T) {
	const origin = "https://shop.example"
	col := collectortest.Start(t, "--allowed-origins", origin, "--browser-writable", "prefs")
	// Visitor data for every subject there is: none may reach it.
	page := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
	status, body := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect",
		map[string]any{"cookieless": true, "cookies": "server", "visitorId": collectortest.NewID(), "events": []protocol.Event{page}},
		"Origin", origin, "User-Agent", "Firefox/133")
	if status != http.StatusOK {
		t.Fatalf("collect: %d %s", status, body)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatal(err)
	}
	if res.VisitorKey != "" || res.VisitorData != nil || res.Cookies != "" || len(res.Ack.EventIDs) != 1 {
		t.Fatalf("cookieless answer %s: want an ack and no key, visitor data or cookies", body)
	}
	var v collector.Visit
	col.Get("/v1/visits/"+res.VisitID, &v)
	if !v.Cookieless || v.State != protocol.StateAnonymous {
		t.Fatalf("visit %+v: want cookieless and anonymous", v)
	}

	hdr := http.Header{"Origin": {origin}, "User-Agent": {"Firefox/133"}}
	ws, resp := collectortest.DialWith(t, col.WSURL()+"?cookies=server", hdr, protocol.Hello{Cookieless: true})
	if ws.Welcome.VisitID != res.VisitID || ws.Welcome.VisitorKey != "" || string(ws.Welcome.VisitorData.Data) != "{}" {
		t.Fatalf("cookieless welcome %+v: want visit %s, no key, no data", ws.Welcome, res.VisitID)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) > 0 && ws.Welcome.Cookies != "" {
		t.Errorf("a cookieless browser was given cookies: %v (welcome cookies %q)", c, ws.Welcome.Cookies)
	}
	ws.Send(map[string]any{"type": protocol.TypeVisitorDataUpdate, "requestId": "r1", "namespace": "prefs", "value": map[string]any{"x": 1}})
	var e protocol.Error
	ws.Expect(protocol.TypeError, &e)
	if e.Code != protocol.CodeNamespaceNotWritable || e.RequestID != "r1" {
		t.Fatalf("visitor-data update in a cookieless visit: %+v", e)
	}
	ack, _ := ws.SendEvents(false, collectortest.Event("Browse", collectortest.NewID(), nil))
	if len(ack.EventIDs) != 1 {
		t.Fatalf("events over the cookieless socket: %+v", ack)
	}
	col.Get("/v1/visits/"+res.VisitID, &v)
	if v.EventCount != 2 {
		t.Errorf("the cookieless visit has %d events, want 2", v.EventCount)
	}
}

// person is one browser of TestCookielessVisitsIdentifyNobody: its
// address (X-Forwarded-For through the trusted loopback proxy) and where
// the GeoIP database puts it, its user agent and browser version, and a
// landing URL, referrer and second page that name it.
type person struct {
	tag, ip, region, city   string
	userAgent, version      string
	email                   string
	landing, referrer, page string
	cookieless              bool
	visitorID, visitorKey   string // a consented browser's cookies
	visitID                 string
}

func newPerson(tag, ip, region, city, version string, cookieless bool) *person {
	email := url.QueryEscape(tag + "@example.com")
	return &person{tag: tag, ip: ip, region: region, city: city, version: version, email: email, cookieless: cookieless,
		userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/" + version + " Safari/537.36",
		landing:   "https://shop.example/landing?email=" + email + "&utm_source=news#token-" + tag,
		referrer:  "https://mail.example/inbox/" + tag + "?q=" + email,
		page:      "https://shop.example/cart?email=" + email}
}

// markers are the strings that would identify p.
func (p *person) markers() map[string]string {
	return map[string]string{"IP": p.ip, "user agent": p.userAgent, "e-mail": p.email,
		"referrer path": "/inbox/" + p.tag, "fragment": "token-" + p.tag,
		"browser version": p.version, "region": p.region, "city": p.city}
}

// TestCookielessVisitsIdentifyNobody: cookieless browsers, over HTTP and
// over a WebSocket whose hello opens the visit, with a distinctive address
// and user agent and an e-mail address in their URLs: the History API
// shows none of it but the parsed campaign fields and coarse enrichment
// (browser family and major version, OS, device type, country; no region
// or city), and neither visitrack.db nor its WAL holds any of it, while
// the collector runs and after its checkpoint at shutdown. A consented
// browser's strings are there, which shows that the scan sees what is
// stored.
func TestCookielessVisitsIdentifyNobody(t *testing.T) {
	const origin = "https://shop.example"
	geoDB := filepath.Join(t.TempDir(), "city.mmdb")
	if err := geoiptest.WriteCity(geoDB, map[string]enrich.Location{
		"198.51.100.0/24": {Country: "NL", Region: "NL-NH", City: "Zaandam"},
		"192.0.2.0/24":    {Country: "DE", Region: "DE-BE", City: "Berlin"},
	}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--allowed-origins", origin, "--trusted-proxies", "127.0.0.1/32",
		"--geoip-db", geoDB, "--rate-limit", "0")
	overHTTP := newPerson("alice", "198.51.100.71", "NL-NH", "Zaandam", "131.0.6778.86", true)
	overWS := newPerson("carol", "198.51.100.72", "NL-NH", "Zaandam", "131.0.6778.108", true)
	consented := newPerson("bob", "192.0.2.73", "DE-BE", "Berlin", "131.0.6778.204", false)

	collect := func(p *person, events ...protocol.Event) {
		t.Helper()
		status, body := collectortest.Request(t, col.URL(), "", "POST", "/v1/collect",
			map[string]any{"cookieless": p.cookieless, "visitorId": p.visitorID, "visitorKey": p.visitorKey,
				"visitId": p.visitID, "events": events},
			"Origin", origin, "User-Agent", p.userAgent, "X-Forwarded-For", p.ip)
		var res protocol.CollectResponse
		if err := json.Unmarshal(body, &res); status != http.StatusOK || err != nil || len(res.Ack.EventIDs) != len(events) {
			t.Fatalf("collect: %d %s", status, body)
		}
		p.visitorID, p.visitID = res.VisitorID, res.VisitID
		if res.VisitorKey != "" {
			p.visitorKey = res.VisitorKey
		}
	}
	pageView := func(url, referrer string) protocol.Event {
		e := collectortest.Event(protocol.EventPageEntered, collectortest.NewID(), nil)
		e.URL, e.Referrer, e.Title = url, referrer, "Cart"
		return e
	}
	for _, p := range []*person{overHTTP, consented} {
		collect(p, pageView(p.landing, p.referrer))
		browse := collectortest.Event("Browse", collectortest.NewID(), map[string]any{"n": 1})
		browse.URL = p.page
		collect(p, pageView(p.page, p.landing), browse)
	}
	ws, _ := collectortest.DialWith(t, col.WSURL(),
		http.Header{"Origin": {origin}, "User-Agent": {overWS.userAgent}, "X-Forwarded-For": {overWS.ip}},
		protocol.Hello{Cookieless: true, URL: overWS.landing, Referrer: overWS.referrer})
	overWS.visitID = ws.Welcome.VisitID
	if ack, _ := ws.SendEvents(false, pageView(overWS.landing, overWS.referrer), pageView(overWS.page, overWS.landing)); len(ack.EventIDs) != 2 {
		t.Fatalf("events over the cookieless socket: %+v", ack)
	}
	ws.Conn.CloseNow()

	// What the History API shows.
	var answers []string
	get := func(path string) []byte {
		t.Helper()
		status, body := col.Do("GET", path, nil)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		answers = append(answers, path+": "+string(body))
		return body
	}
	since := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	get("/v1/visits")
	get("/v1/events")
	get("/v1/export/visits?since=" + since)
	get("/v1/export/events?since=" + since)
	for _, p := range []*person{overHTTP, overWS} {
		var v collector.Visit
		if err := json.Unmarshal(get("/v1/visits/"+p.visitID), &v); err != nil {
			t.Fatal(err)
		}
		if !v.Cookieless || v.LandingURL != "https://shop.example/landing" || v.Referrer != "https://mail.example/" || v.UserAgent != "" {
			t.Errorf("cookieless visit: landing %q, referrer %q, user agent %q", v.LandingURL, v.Referrer, v.UserAgent)
		}
		if string(v.UTM) != `{"source":"news"}` || v.Browser != "Chrome" || v.BrowserVersion != "131" || v.OS != "Windows" ||
			v.DeviceType != "desktop" || v.Country != "NL" || v.Region != "" || v.City != "" {
			t.Errorf("cookieless visit insight %+v: want utm_source news, Chrome 131 on a Windows desktop in NL, no region or city", v.VisitInsight)
		}
		get("/v1/visits/" + p.visitID + "/pages")
		get("/v1/visits/" + p.visitID + "/events")
	}
	for _, p := range []*person{overHTTP, overWS} {
		for what, m := range p.markers() {
			for _, a := range answers {
				if strings.Contains(a, m) {
					t.Errorf("the History API shows a cookieless browser's %s %q: %.300s", what, m, a)
				}
			}
		}
	}
	var kept collector.Visit
	col.Get("/v1/visits/"+consented.visitID, &kept)
	if kept.LandingURL != consented.landing || kept.UserAgent != consented.userAgent || kept.City != consented.city {
		t.Errorf("consented visit %+v: want what its browser sent", kept)
	}

	// What the files hold: while the collector runs, and after it
	// checkpointed at shutdown.
	for _, phase := range []string{"while running", "after the checkpoint at shutdown"} {
		if phase != "while running" {
			col.Stop()
		}
		for _, p := range []*person{overHTTP, overWS} {
			for what, m := range p.markers() {
				if files := filesHolding(t, dir, m); len(files) > 0 {
					t.Errorf("%s, a cookieless browser's %s %q is in %v", phase, what, m, files)
				}
			}
		}
		for what, m := range consented.markers() {
			if files := filesHolding(t, dir, m); len(files) == 0 {
				t.Errorf("%s, the consented browser's %s %q is in neither file: the scan proves nothing", phase, what, m)
			}
		}
	}
}

// filesHolding returns which of the database and its WAL hold marker.
func filesHolding(t *testing.T, dataDir, marker string) []string {
	t.Helper()
	var found []string
	for _, name := range []string{"visitrack.db", "visitrack.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dataDir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(marker)) {
			found = append(found, name)
		}
	}
	return found
}
