package useragent

import (
	"strings"
	"testing"

	medama "github.com/medama-io/go-useragent"
	mileusna "github.com/mileusna/useragent"
	"github.com/ua-parser/uap-go/uaparser"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/x-way/crawlerdetect"
)

// The parsers that were compared before choosing medama-io/go-useragent
// with x-way/crawlerdetect. TestCompareParsers logs how each labels the
// real agents of useragent_test.go; BenchmarkParsers times each on them.
// Run: go test -run CompareParsers -v -bench Parsers ./collector/enrich/

func TestCompareParsers(t *testing.T) {
	m := medama.NewParser()
	u := uaparser.NewFromSaved()
	score := map[string]int{}
	for _, tc := range realAgents {
		mp := m.Parse(tc.ua)
		mi := mileusna.Parse(tc.ua)
		up := u.Parse(tc.ua)
		cd := crawlerdetect.IsCrawler(tc.ua)
		if tc.want.Bot {
			score["medama"] += b2i(mp.IsBot())
			score["mileusna"] += b2i(mi.Bot)
			score["uap-go"] += b2i(up.Device.Family == "Spider")
			score["crawlerdetect"] += b2i(cd)
		} else {
			score["medama"] += b2i(string(mp.Browser()) == tc.want.Browser && !mp.IsBot())
			score["mileusna"] += b2i(strings.Contains(mi.Name, strings.Fields(tc.want.Browser)[0]) && !mi.Bot)
			score["uap-go"] += b2i(strings.Contains(up.UserAgent.Family, strings.Fields(tc.want.Browser)[0]) && up.Device.Family != "Spider")
			score["crawlerdetect"] += b2i(!cd)
		}
		t.Logf("%-18s medama=%s/%s/%s bot=%v | mileusna=%s/%s bot=%v | uap=%s/%s/%s | crawlerdetect=%v",
			tc.name, mp.Browser(), mp.OS(), mp.Device(), mp.IsBot(), mi.Name, mi.OS, mi.Bot,
			up.UserAgent.Family, up.Os.Family, up.Device.Family, cd)
	}
	t.Logf("right out of %d: %v", len(realAgents), score)
	if got := score["medama"]; got < len(realAgents)-3 {
		t.Errorf("the chosen parser labels only %d of %d right", got, len(realAgents))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func BenchmarkParsers(b *testing.B) {
	b.Run("medama", func(b *testing.B) {
		p := medama.NewParser()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.Parse(realAgents[i%len(realAgents)].ua)
		}
	})
	b.Run("mileusna", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			mileusna.Parse(realAgents[i%len(realAgents)].ua)
		}
	})
	b.Run("uap-go", func(b *testing.B) {
		p := uaparser.NewFromSaved()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			p.Parse(realAgents[i%len(realAgents)].ua)
		}
	})
	b.Run("crawlerdetect", func(b *testing.B) {
		c := crawlerdetect.New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			c.IsCrawler(realAgents[i%len(realAgents)].ua)
		}
	})
	b.Run("enrich-uncached", func(b *testing.B) {
		u := New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			u.parse(realAgents[i%len(realAgents)].ua)
		}
	})
	b.Run("enrich-cached", func(b *testing.B) {
		u := New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			u.Parse(realAgents[i%len(realAgents)].ua)
		}
	})
}

// BenchmarkVisit is the whole enrichment of one new visit, as ingest runs
// it: cached user agent, campaign, referrer type, no GeoIP.
func BenchmarkVisit(b *testing.B) {
	e := enrich.New(New(), nil)
	in := enrich.Input{UserAgent: realAgents[0].ua, LandingURL: "https://shop.example/?utm_source=google&utm_medium=cpc&gclid=x",
		Referrer: "https://www.google.com/", IP: "81.2.69.160"}
	b.ReportAllocs()
	for b.Loop() {
		e.Visit(in)
	}
}
