// Package useragent classifies User-Agent headers for enrich: browser,
// version, OS and device type with github.com/medama-io/go-useragent (a
// trie built once, no allocation per parse), bots with
// github.com/x-way/crawlerdetect (the crawler list of the PHP CrawlerDetect
// project) and the parser's own bot class. The crawler list decides for
// every header, also one in which the parser found a browser: monitoring
// and SEO tools send a browser's string with their name added. It is the
// slow part, so what each header was classified as is cached. An Android
// browser that leaves "Mobile" out of its string runs on a tablet.
//
// It is a package of its own so that builds that cannot afford its tables
// (the edge worker, under its size limit) leave it out. BenchmarkParsers
// compares it with mileusna/useragent and ua-parser/uap-go; TestSample
// measures it on public samples of crawlers and browsers (testdata/).
package useragent

import (
	"strings"

	"github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/x-way/crawlerdetect"
)

// maxUserAgent bounds the part of a User-Agent header that is parsed: real
// ones are a few hundred bytes, and the crawler list is a regular
// expression whose cost grows with the input (about 1.5 ms for 512 bytes
// of junk).
const maxUserAgent = 512

// Parser parses User-Agent headers. It is safe for concurrent use; the
// parsers are built once (New takes a few milliseconds).
type Parser struct {
	parser   *useragent.Parser
	crawlers *crawlerdetect.CrawlerDetect
	cache    *agentCache
}

// New builds the parsers.
func New() *Parser {
	return &Parser{
		parser:   useragent.NewParser(),
		crawlers: crawlerdetect.New(),
		cache:    newAgentCache(cacheSize),
	}
}

// Parse describes ua. Hostile input (megabytes, control characters,
// invalid UTF-8) is cut and cleaned first, so the cost is bounded.
func (u *Parser) Parse(ua string) enrich.Agent {
	ua = enrich.Clean(ua, maxUserAgent)
	if a, ok := u.cache.get(ua); ok {
		return a
	}
	a := u.parse(ua)
	u.cache.put(ua, a)
	return a
}

func (u *Parser) parse(ua string) enrich.Agent {
	if strings.TrimSpace(ua) == "" {
		return enrich.Agent{DeviceType: enrich.DeviceBot, Bot: true, BotReason: enrich.BotNoUserAgent}
	}
	p := u.parser.Parse(ua)
	a := enrich.Agent{
		Browser:        string(p.Browser()),
		BrowserVersion: p.BrowserVersion(),
		OS:             string(p.OS()),
		DeviceType:     deviceType(p.Device()),
	}
	if a.DeviceType == enrich.DeviceMobile && p.OS() == agents.OSAndroid && !strings.Contains(ua, "Mobi") {
		// Android browsers say "Mobile" on phones and leave it out on
		// tablets (Chrome, Samsung Internet, Silk on Fire tablets;
		// Firefox says "Tablet"). "Mobi" also covers Opera's "Opera Mobi".
		a.DeviceType = enrich.DeviceTablet
	}
	switch {
	case strings.Contains(ua, "HeadlessChrome") || strings.Contains(ua, "PhantomJS"):
		a.Bot, a.BotReason = true, enrich.BotHeadless
	case u.crawlers.IsCrawler(ua):
		// Even when the parser found a browser: monitoring and SEO tools
		// (GTmetrix, Pingdom, Ghost Inspector, PrintFriendly…) send a
		// browser's string with their name added.
		a.Bot, a.BotReason = true, enrich.BotCrawlerList
	case p.IsBot():
		a.Bot, a.BotReason = true, enrich.BotParser
	}
	if a.Bot {
		a.DeviceType = enrich.DeviceBot
	}
	return a
}

func deviceType(d agents.Device) string {
	switch d {
	case agents.DeviceDesktop:
		return enrich.DeviceDesktop
	case agents.DeviceMobile:
		return enrich.DeviceMobile
	case agents.DeviceTablet:
		return enrich.DeviceTablet
	case agents.DeviceBot:
		return enrich.DeviceBot
	}
	return enrich.DeviceOther
}
