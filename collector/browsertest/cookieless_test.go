//go:build browser

package browsertest

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
)

// TestCookielessPageViewIdentifiesNobody: a browser that has not consented
// lands on a URL whose query names a person. The cookieless page view it
// reports is stored with the URL without its query, the campaign parsed
// from it, and no user agent: neither the History API nor visitrack.db and
// its WAL hold the e-mail address or the browser's User-Agent string.
func TestCookielessPageViewIdentifiesNobody(t *testing.T) {
	var c *collectorProc
	site := siteServer(t, func() string { return c.URL() }, `{requireConsent: true}`)
	dir := t.TempDir()
	c = startCollector(t, dir, "127.0.0.1:0", "--allowed-origins", site)
	tab := newBrowser(t)
	open(t, tab, site+"/landing?email=alice%40example.com&utm_source=news")
	var userAgent string
	eval(t, tab, `navigator.userAgent`, &userAgent)
	markers := map[string]string{"e-mail": "alice%40example.com", "user agent": userAgent}

	var visits list[collector.Visit]
	waitFor(t, "the cookieless page view", func() bool { c.getJSON("/v1/visits", &visits); return len(visits.Items) > 0 })
	v := visits.Items[0]
	if len(visits.Items) != 1 || !v.Cookieless {
		t.Fatalf("visits %+v, want one cookieless visit", visits.Items)
	}
	if v.LandingURL != site+"/landing" || v.UserAgent != "" || string(v.UTM) != `{"source":"news"}` {
		t.Errorf("cookieless visit: landing %q, user agent %q, utm %s; want %q, none, utm_source news",
			v.LandingURL, v.UserAgent, v.UTM, site+"/landing")
	}
	for _, path := range []string{"/v1/visits", "/v1/visits/" + v.VisitID + "/events", "/v1/visits/" + v.VisitID + "/pages"} {
		status, body := c.get(path)
		if status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, status, body)
		}
		for what, m := range markers {
			if strings.Contains(string(body), m) {
				t.Errorf("GET %s shows the browser's %s %q", path, what, m)
			}
		}
	}
	if evs := c.events(v.VisitID); len(evs) == 0 || evs[0].URL != site+"/landing" {
		t.Errorf("cookieless events %+v: want the page view at %s", evs, site+"/landing")
	}

	c.stop() // checkpoints
	for _, name := range []string{"visitrack.db", "visitrack.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for what, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				t.Errorf("%s holds the browser's %s %q", name, what, m)
			}
		}
	}
}
