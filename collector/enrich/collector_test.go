package enrich_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/enrich/geoip/geoiptest"
	"github.com/visitrack/visitrack/collector/identity"
	"github.com/visitrack/visitrack/shared/protocol"
)

// openVisit opens a visit over /v1/collect as a browser with the given
// User-Agent landing on url from referrer, and returns it as the History
// API shows it.
func openVisit(t *testing.T, c *collectortest.Collector, userAgent, url, referrer string) collector.Visit {
	t.Helper()
	ev := collectortest.Event(protocol.EventVisitStarted, collectortest.NewID(), nil)
	ev.URL, ev.Referrer = url, referrer
	status, body := collectortest.Request(t, c.URL(), "", "POST", "/v1/collect",
		map[string]any{"events": []protocol.Event{ev}}, "User-Agent", userAgent)
	if status != http.StatusOK {
		t.Fatalf("collect: %d %s", status, body)
	}
	var res protocol.CollectResponse
	if err := json.Unmarshal(body, &res); err != nil || res.VisitID == "" {
		t.Fatalf("collect answer %s: %v", body, err)
	}
	var v collector.Visit
	c.Get("/v1/visits/"+res.VisitID, &v)
	return v
}

func TestVisitsAreClassified(t *testing.T) {
	c := collectortest.Start(t)
	cases := []struct {
		name, ua         string
		browser, os, dev string
		bot              bool
	}{
		{"Chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome", "Windows", "desktop", false},
		{"Firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "Linux", "desktop", false},
		{"Safari on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari", "iOS", "mobile", false},
		{"Samsung Internet", "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Browser", "Android", "mobile", false},
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", "", "bot", true},
		{"curl", "curl/8.5.0", "", "", "bot", true},
		{"headless Chromium", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "", "", "bot", true},
		// A monitoring tool that adds its name to a whole browser string.
		{"GTmetrix", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0.0.0 Safari/537.36 GTmetrix", "", "", "bot", true},
		// Android without "Mobile": a tablet.
		{"Galaxy Tab", "Mozilla/5.0 (Linux; Android 12; SAMSUNG SM-T500) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/20.0 Chrome/106.0.5249.126 Safari/537.36", "Samsung Browser", "Android", "tablet", false},
	}
	for _, tc := range cases {
		v := openVisit(t, c, tc.ua, "https://shop.example/", "")
		if v.Bot != tc.bot || v.DeviceType != tc.dev || (!tc.bot && (v.Browser != tc.browser || v.OS != tc.os)) {
			t.Errorf("%s: browser=%q os=%q device=%q bot=%v (%s)", tc.name, v.Browser, v.OS, v.DeviceType, v.Bot, v.BotReason)
		}
		if tc.bot && v.BotReason == "" {
			t.Errorf("%s: a bot without a reason", tc.name)
		}
		if v.ReferrerType != enrich.RefDirect {
			t.Errorf("%s: referrerType %q, want direct", tc.name, v.ReferrerType)
		}
	}
}

func TestLandingCampaignIsAttributed(t *testing.T) {
	c := collectortest.Start(t)
	v := openVisit(t, c, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"https://shop.example/sale?utm_source=google&utm_medium=cpc&utm_campaign=winter&gclid=EAIaIQ",
		"https://www.google.com/")
	var utm enrich.UTM
	var clicks map[string]string
	if err := json.Unmarshal(v.UTM, &utm); err != nil || json.Unmarshal(v.ClickIDs, &clicks) != nil {
		t.Fatalf("utm %s, clickIds %s", v.UTM, v.ClickIDs)
	}
	if utm != (enrich.UTM{Source: "google", Medium: "cpc", Campaign: "winter"}) || clicks["gclid"] != "EAIaIQ" {
		t.Errorf("utm %+v, click ids %v", utm, clicks)
	}
	if v.ReferrerType != enrich.RefCampaign {
		t.Errorf("referrerType %q, want campaign", v.ReferrerType)
	}
	if v := openVisit(t, c, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		"https://shop.example/", "https://duckduckgo.com/"); v.ReferrerType != enrich.RefSearch {
		t.Errorf("from a search engine: referrerType %q", v.ReferrerType)
	}
}

func TestGeoIPFromFlag(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "city.mmdb")
	if err := geoiptest.WriteCity(db, map[string]enrich.Location{
		"127.0.0.0/8": {Country: "NZ", Region: "AUK", City: "Auckland"},
	}); err != nil {
		t.Fatal(err)
	}
	c := collectortest.Start(t, "--geoip-db", db)
	v := openVisit(t, c, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "https://shop.example/", "")
	if v.Country != "NZ" || v.Region != "AUK" || v.City != "Auckland" {
		t.Errorf("location %q %q %q, want NZ AUK Auckland", v.Country, v.Region, v.City)
	}

	// Without the flag there is no location; with a bad file the
	// collector refuses to start and says why.
	if v := openVisit(t, collectortest.Start(t), "curl/8", "https://shop.example/", ""); v.Country != "" {
		t.Errorf("country %q without a database", v.Country)
	}
	bad := filepath.Join(dir, "bad.mmdb")
	os.WriteFile(bad, []byte(strings.Repeat("x", 4096)), 0o600)
	for _, path := range []string{bad, filepath.Join(dir, "missing.mmdb")} {
		m := daemon.New(nil, &strings.Builder{})
		if err := m.ParseFlags([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--geoip-db", path},
			func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		err := m.Run(t.Context())
		if err == nil {
			m.Close(t.Context())
			t.Errorf("%s: the collector started", path)
		} else if !strings.Contains(err.Error(), "--geoip-db") {
			t.Errorf("%s: error %q does not name the flag", path, err)
		}
	}
}

func TestIdentityTouches(t *testing.T) {
	const secret = "touch-test-secret"
	c := collectortest.Start(t, "--identity-secret", secret)
	signIn := func(landing, referrer string, proof bool) *string {
		t.Helper()
		page := collectortest.NewID()
		entered := collectortest.Event(protocol.EventPageEntered, page, nil)
		entered.URL, entered.Referrer = landing, referrer
		data := map[string]any{"userId": "tess@example.com"}
		if proof {
			data["userHash"] = identity.UserHash(secret, "tess@example.com")
		}
		status, body := collectortest.Request(t, c.URL(), "", "POST", "/v1/collect", map[string]any{
			"events": []protocol.Event{entered, collectortest.Event(protocol.EventSignIn, page, data)},
		}, "User-Agent", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0")
		if status != http.StatusOK {
			t.Fatalf("collect: %d %s", status, body)
		}
		var res protocol.CollectResponse
		json.Unmarshal(body, &res)
		return res.Identity.IdentityID
	}
	type touch struct {
		At           time.Time
		LandingURL   string `json:"landingUrl"`
		ReferrerType string `json:"referrerType"`
		UTM          enrich.UTM
	}
	var ident struct{ FirstTouch, LastTouch *touch }

	// An unproven SignIn proves nothing: no touch.
	signIn("https://shop.example/?utm_source=spam", "", false)
	var list struct{ Items []struct{ IdentityID string } }
	c.Get("/v1/identities?userId=tess@example.com", &list)
	if len(list.Items) != 1 {
		t.Fatalf("identities: %+v", list)
	}
	c.Get("/v1/identities/"+list.Items[0].IdentityID, &ident)
	if ident.FirstTouch != nil || ident.LastTouch != nil {
		t.Fatalf("an unproven claim set touches: %+v %+v", ident.FirstTouch, ident.LastTouch)
	}

	id := signIn("https://shop.example/?utm_source=news&utm_medium=email", "", true)
	if id == nil {
		t.Fatal("proven SignIn has no identity")
	}
	signIn("https://shop.example/shoes", "https://www.google.com/", true)
	c.Get("/v1/identities/"+*id, &ident)
	if ident.FirstTouch == nil || ident.LastTouch == nil {
		t.Fatalf("touches missing: %+v", ident)
	}
	if f := ident.FirstTouch; f.UTM.Source != "news" || f.ReferrerType != enrich.RefEmail || f.At.IsZero() {
		t.Errorf("first touch %+v, want the newsletter visit", f)
	}
	if l := ident.LastTouch; l.LandingURL != "https://shop.example/shoes" || l.ReferrerType != enrich.RefSearch {
		t.Errorf("last touch %+v, want the search visit", l)
	}
}
