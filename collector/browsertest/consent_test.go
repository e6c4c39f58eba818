//go:build browser

package browsertest

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// consentSite serves pages that embed the tracker after a first script
// that sets navigator.globalPrivacyControl as the page's query says
// (?gpc=1): headless browsers do not expose the setting, and a page sees
// it there before the loader runs. ?respect=0 configures respectGPC:
// false.
func consentSite(t *testing.T, collectorURL func() string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gpc := r.URL.Query().Get("gpc") == "1"
		respect := r.URL.Query().Get("respect") != "0"
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Consent</title>
<script>
  Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: function () { return %[2]t; }, configurable: true});
  window._gt = window._gt || [];
  _gt.push(['config', {collector: '%[1]s', respectGPC: %[3]t}]);
</script>
<script async src="%[1]s/gt.js"></script>
</head><body>consent</body></html>`, collectorURL(), gpc, respect)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestConsentSignalsInEngines: in Chromium, Firefox and WebKit, a page
// with Global Privacy Control keeps no cookie and opens no socket, and is
// counted cookieless; Consent Mode's analytics_storage granted starts the
// visit, with a ConsentChanged granted in its history; denied records a
// ConsentChanged denied in that visit and deletes the cookies. With
// respectGPC: false, GPC changes nothing.
func TestConsentSignalsInEngines(t *testing.T) {
	for _, eng := range storyEngines {
		t.Run(eng.name, func(t *testing.T) {
			var c *collectorProc
			site := consentSite(t, func() string { return c.URL() })
			c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--allowed-origins", site)
			s := &story{t: t, c: c, site: site, eng: startStoryEngine(t, eng.start)}

			// 1. GPC: counted cookieless, nothing kept.
			s.navigate(site + "/gpc?gpc=1")
			s.waitPage("the tracker", `!!(window._gt && window._gt.tracker)`)
			s.waitFor("the cookieless visit", func() bool { return len(cookielessVisits(t, c)) == 1 }, nil)
			var st struct{ Transport string }
			s.eval(`visitrack.stats()`, &st)
			var jar string
			s.eval(`document.cookie`, &jar)
			if st.Transport != "" || strings.Contains(jar, "_vt_") {
				t.Fatalf("%s with GPC: transport %q, cookies %q", eng.name, st.Transport, jar)
			}

			// 2. Consent Mode grants: a visit starts, the grant in it.
			s.eval(`_gt.push(['consent', 'update', {analytics_storage: 'granted', ad_storage: 'denied'}]), true`, new(bool))
			granted := s.welcomed("/gpc")
			evs := s.waitEvents(granted.VisitID, "ConsentChanged granted", func(evs []collector.Event) bool {
				return count(evs, "ConsentChanged") == 1
			})
			if ev := consentEvent(evs, 0); ev == nil || !bytes.Equal(ev.Data, []byte(`{"state":"granted","source":"consentMode"}`)) ||
				ev.Category != "system" {
				t.Fatalf("%s: events %s, want a ConsentChanged granted from consentMode", eng.name, names(evs))
			}
			if v := c.visit(granted.VisitID); v.Cookieless {
				t.Fatalf("%s: the consented visit is cookieless", eng.name)
			}

			// 3. Withdrawn: recorded in the visit, then the cookies go.
			s.eval(`_gt.push(['consent', {analytics_storage: 'denied'}]), true`, new(bool))
			evs = s.waitEvents(granted.VisitID, "ConsentChanged denied", func(evs []collector.Event) bool {
				return count(evs, "ConsentChanged") == 2
			})
			if ev := consentEvent(evs, 1); !bytes.Equal(ev.Data, []byte(`{"state":"denied","source":"consentMode"}`)) {
				t.Fatalf("%s: withdrawal stored as %s", eng.name, ev.Data)
			}
			s.eval(`document.cookie`, &jar)
			if strings.Contains(jar, "_vt_vid") || strings.Contains(jar, "_vt_visit") {
				t.Fatalf("%s: cookies after the withdrawal %q", eng.name, jar)
			}

			// 4. respectGPC: false tracks as usual.
			s.navigate(site + "/tracked?gpc=1&respect=0")
			ids := s.welcomed("/tracked")
			if v := c.visit(ids.VisitID); v.Cookieless || ids.VisitorID == "" {
				t.Fatalf("%s: respectGPC false: %+v, visit cookieless %v", eng.name, ids, v.Cookieless)
			}
			if n := len(cookielessVisits(t, c)); n != 1 {
				t.Fatalf("%s: %d cookieless visits, want the first page's only", eng.name, n)
			}
		})
	}
}

// cookielessVisits lists the collector's cookieless visits.
func cookielessVisits(t *testing.T, c *collectorProc) []collector.Visit {
	t.Helper()
	var l list[collector.Visit]
	c.getJSON("/v1/visits?since="+time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), &l)
	var out []collector.Visit
	for _, v := range l.Items {
		if v.Cookieless {
			out = append(out, v)
		}
	}
	return out
}

// consentEvent returns the i-th ConsentChanged of evs, or nil.
func consentEvent(evs []collector.Event, i int) *collector.Event {
	for j := range evs {
		if evs[j].Name == "ConsentChanged" {
			if i == 0 {
				return &evs[j]
			}
			i--
		}
	}
	return nil
}
