//go:build browser

package browsertest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
)

// chatExample is the heading of docs/engagement.md's worked example, whose
// category, rule and page script the test runs as written: the docs cannot
// drift from what works.
const chatExample = "## Example: a Genesys proactive chat invitation"

// pageOffer is an offer as the page's subscriber received it.
type pageOffer struct {
	OfferID   string         `json:"offerId"`
	RuleID    string         `json:"ruleId"`
	Channel   string         `json:"channel"`
	Data      map[string]any `json:"data"`
	ExpiresAt string         `json:"expiresAt"`
}

// TestOfferInEngines runs docs/engagement.md's Genesys proactive chat
// invitation in Chromium, Firefox and WebKit: the category and the rule
// made through REST, product pages whose script subscribes with GWE's
// ['subscribe', 'offer', fn] and answers with ['offer', offerId, answer]
// when the visitor clicks. The second product page's offer is accepted,
// the third's declined, the fourth's left to time out; the History API
// shows the three offers and each outcome naming its offer, and answers
// for offers unknown, answered or expired are refused by the page and by
// the collector, and stored nowhere.
func TestOfferInEngines(t *testing.T) {
	blocks := docExample(t, "../../docs/engagement.md", chatExample)
	if len(blocks) != 3 {
		t.Fatalf("docs/engagement.md %q: %d code blocks, want the category, the rule and the page's script", chatExample, len(blocks))
	}
	category, rule, script := blocks[0], blocks[1], blocks[2]
	var want struct {
		Then struct {
			Offer struct {
				Channel string
				Data    map[string]any
				TTL     string
			}
		}
	}
	if err := json.Unmarshal([]byte(rule), &want); err != nil {
		t.Fatalf("the example's rule: %v", err)
	}
	ttl, err := time.ParseDuration(want.Then.Offer.TTL)
	if err != nil {
		t.Fatalf("the example's ttl: %v", err)
	}
	for _, eng := range storyEngines {
		t.Run(eng.name, func(t *testing.T) {
			var c *collectorProc
			site := chatSite(t, func() string { return c.URL() }, script)
			c = startCollector(t, t.TempDir(), "127.0.0.1:0", "--allowed-origins", site)
			postAPI(t, c, "/v1/engagement/categories", category)
			ruleID := postAPI(t, c, "/v1/engagement/rules", rule)["id"].(string)
			s := &story{t: t, c: c, site: site, eng: startStoryEngine(t, eng.start)}

			// The first product page counts one: no offer.
			first := s.open("/products/1")
			visit := first.VisitID

			// The second: after the dwell, the offer, accepted.
			accepted, page2 := s.offerOn("/products/2")
			s.eval(`document.querySelector('.chat-invite .accepted').click(), true`, new(bool))
			var chats []string
			s.eval(`window.chats`, &chats)
			if len(chats) != 1 || chats[0] != accepted.OfferID {
				t.Fatalf("%s: openChat got %v, want the accepted offer %s", eng.name, chats, accepted.OfferID)
			}
			s.waitEvents(visit, "EngagementAccepted", func(evs []collector.Event) bool { return count(evs, "EngagementAccepted") == 1 })

			// The third: declined.
			declined, page3 := s.offerOn("/products/3")
			s.eval(`document.querySelector('.chat-invite .declined').click(), true`, new(bool))
			s.waitEvents(visit, "EngagementDeclined", func(evs []collector.Event) bool { return count(evs, "EngagementDeclined") == 1 })
			// The page refuses an answer to an offer made to another page
			// and a second answer to its own; the collector refuses an
			// answer to an offer answered already and to one it never made.
			s.answerRefused(accepted.OfferID, "unknown_offer")
			s.answerRefused(declined.OfferID, "unknown_offer")
			s.sentRefused("EngagementDeclined", accepted.OfferID)
			s.sentRefused("EngagementAccepted", "01ARZ3NDEKTSV4RRFFQ69G5FAV")

			// The fourth: nobody answers; it times out after the ttl.
			timedOut, _ := s.offerOn("/products/4")
			shown := time.Now()
			s.waitEvents(visit, "EngagementTimedOut", func(evs []collector.Event) bool { return count(evs, "EngagementTimedOut") == 1 })
			if waited := time.Since(shown); waited < ttl/2 {
				t.Fatalf("%s: the offer timed out %s after the page had it; its ttl is %s", eng.name, waited, ttl)
			}
			s.waitPage("the invitation to go when it expires", `!document.querySelector('.chat-invite')`)
			// Too late: refused by the page, then (sent as an event all the
			// same) by the collector; GWE's form is ignored.
			s.answerRefused(timedOut.OfferID, "offer_expired")
			s.sentRefused("EngagementAccepted", timedOut.OfferID)
			s.eval(`_gt.push(['offer', '`+timedOut.OfferID+`', 'accepted']), visitrack.stats().then(() => true)`, new(bool))

			offers := []pageOffer{accepted, declined, timedOut}
			for i, o := range offers {
				if o.RuleID != ruleID || o.Channel != want.Then.Offer.Channel || !reflect.DeepEqual(o.Data, want.Then.Offer.Data) {
					t.Fatalf("%s: offer %d as the page got it %+v, want rule %s's channel %q and data %v",
						eng.name, i+1, o, ruleID, want.Then.Offer.Channel, want.Then.Offer.Data)
				}
				for _, p := range offers[:i] {
					if p.OfferID == o.OfferID {
						t.Fatalf("%s: offers %+v repeat an offerId", eng.name, offers)
					}
				}
			}

			// The visit's history: three offers, each outcome naming its
			// offer and made on its page, and nothing of the refused answers.
			evs := c.events(visit)
			if count(evs, "EngagementOffered") != 3 || count(evs, "EngagementAccepted") != 1 ||
				count(evs, "EngagementDeclined") != 1 || count(evs, "EngagementTimedOut") != 1 {
				t.Fatalf("%s: the visit's events %s, want 3 offers and one of each outcome", eng.name, names(evs))
			}
			offered := 0
			for _, ev := range evs {
				var d struct {
					OfferID, RuleID, Channel, ExpiresAt string
					Data                                map[string]any
				}
				if strings.HasPrefix(ev.Name, "Engagement") {
					if err := json.Unmarshal(ev.Data, &d); err != nil {
						t.Fatalf("%s: %s data %s: %v", eng.name, ev.Name, ev.Data, err)
					}
				}
				switch ev.Name {
				case "EngagementOffered":
					o := offers[offered]
					offered++
					if d.OfferID != o.OfferID || d.RuleID != ruleID || d.Channel != o.Channel ||
						!reflect.DeepEqual(d.Data, o.Data) || d.ExpiresAt != o.ExpiresAt {
						t.Fatalf("%s: EngagementOffered %s, want the page's offer %d %+v", eng.name, ev.Data, offered, o)
					}
				case "EngagementAccepted":
					if d.OfferID != accepted.OfferID || ev.PageID != page2 || offered != 1 {
						t.Fatalf("%s: EngagementAccepted %s on page %s, want offer %s on page %s", eng.name, ev.Data, ev.PageID, accepted.OfferID, page2)
					}
				case "EngagementDeclined":
					if d.OfferID != declined.OfferID || ev.PageID != page3 || offered != 2 {
						t.Fatalf("%s: EngagementDeclined %s on page %s, want offer %s on page %s", eng.name, ev.Data, ev.PageID, declined.OfferID, page3)
					}
				case "EngagementTimedOut":
					if d.OfferID != timedOut.OfferID || d.RuleID != ruleID || offered != 3 {
						t.Fatalf("%s: EngagementTimedOut %s, want offer %s of rule %s", eng.name, ev.Data, timedOut.OfferID, ruleID)
					}
				}
			}
			var stats struct{ Offered, Accepted, Declined, TimedOut, Open int }
			c.getJSON("/v1/engagement/rules/"+ruleID+"/stats", &stats)
			if stats.Offered != 3 || stats.Accepted != 1 || stats.Declined != 1 || stats.TimedOut != 1 || stats.Open != 0 {
				t.Fatalf("%s: the rule's stats %+v", eng.name, stats)
			}
		})
	}
}

// offerOn goes to the product page at path as by a link, and returns the
// one offer its subscriber received (after the rule's dwell) and the
// page's id; the example's invitation is shown.
func (s *story) offerOn(path string) (pageOffer, string) {
	s.t.Helper()
	s.follow(s.site + path)
	page := s.welcomed(path).PageID
	var got []pageOffer
	s.waitFor("the offer on "+path, func() bool {
		s.eval(`window.offers`, &got)
		return len(got) > 0
	}, nil)
	var text string
	s.eval(`document.querySelector('.chat-invite') && document.querySelector('.chat-invite').textContent`, &text)
	if len(got) != 1 || got[0].OfferID == "" || got[0].ExpiresAt == "" || !strings.HasPrefix(text, fmt.Sprint(got[0].Data["text"])) {
		s.t.Fatalf("%s: on %s the page got offers %+v and shows %q", s.eng.Name(), path, got, text)
	}
	return got[0], page
}

// answerRefused answers offer id through visitrack.offers.answer and
// checks that the page refuses it with code.
func (s *story) answerRefused(id, code string) {
	s.t.Helper()
	var got string
	s.eval(`visitrack.offers.answer('`+id+`', 'accepted').then(() => 'sent', e => e.code)`, &got)
	if got != code {
		s.t.Fatalf("%s: answering offer %s: %q, want %q", s.eng.Name(), id, got, code)
	}
}

// sentRefused sends an answer to offer id as a plain event, past the
// page's own checks, and checks that the collector rejects it in its ack.
func (s *story) sentRefused(name, id string) {
	s.t.Helper()
	var got string
	s.eval(`visitrack.track('`+name+`', {offerId: '`+id+`'}).then(() => 'stored', e => e.code)`, &got)
	if got != "invalid_event" {
		s.t.Fatalf("%s: %s for offer %s: %q, want the collector's invalid_event", s.eng.Name(), name, id, got)
	}
}

// chatSite serves product pages (any path) that embed the tracker, record
// the offers their subscriber receives in window.offers and the chats
// opened in window.chats, and run script, the example's own.
func chatSite(t *testing.T, collectorURL func() string, script string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/products/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><meta charset="utf-8"><title>Product %[2]s</title>
<script>
  window._gt = window._gt || [];
  window.offers = [];
  window.chats = [];
  window.openChat = function (offer) { window.chats.push(offer.offerId); };
  _gt.push(['config', {collector: '%[1]s'}]);
  _gt.push(['subscribe', 'offer', function (offer) { window.offers.push(offer); }]);
</script>
<script async src="%[1]s/gt.js"></script>
</head><body><h1>Product %[2]s</h1>
<script>
%[3]s
</script>
</body></html>`, collectorURL(), strings.TrimPrefix(r.URL.Path, "/products/"), script)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// postAPI sends body to the collector's API as the admin and returns the
// created resource.
func postAPI(t *testing.T, c *collectorProc, path, body string) map[string]any {
	t.Helper()
	status, b := collectortest.Request(t, c.URL(), c.AdminToken, "POST", path, body)
	if status != http.StatusCreated && status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, status, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %s: %v in %s", path, err, b)
	}
	return out
}

// docExample returns the fenced code blocks of the section of the
// Markdown file that starts with the line heading, in order.
func docExample(t *testing.T, file, heading string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	in, block := false, -1
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case block < 0 && line == heading:
			in = true
		case block < 0 && in && strings.HasPrefix(line, "## "):
			return blocks
		case in && strings.HasPrefix(line, "```") && block < 0:
			blocks, block = append(blocks, ""), len(blocks)
		case in && strings.HasPrefix(line, "```"):
			block = -1
		case block >= 0:
			blocks[block] += line + "\n"
		}
	}
	if !in {
		t.Fatalf("%s has no section %q", file, heading)
	}
	return blocks
}
