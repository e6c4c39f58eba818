package enrich

import (
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/medama-io/go-useragent"
	"github.com/medama-io/go-useragent/agents"
	"github.com/x-way/crawlerdetect"
)

// Device types stored on a visit.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceBot     = "bot"
	DeviceOther   = "other"
)

// Reasons a visit is flagged as a bot.
const (
	BotNoUserAgent = "no-user-agent" // browsers always send one
	BotCrawlerList = "crawler-list"  // matched a known crawler, tool or library
	BotHeadless    = "headless"      // a headless browser (automation)
	BotParser      = "parser"        // the user-agent parser's bot class
)

// maxUserAgent bounds the part of a User-Agent header that is parsed: real
// ones are a few hundred bytes, and the crawler list is a regular
// expression whose cost grows with the input.
const maxUserAgent = 512

// Agent is what a User-Agent header says about the browser.
type Agent struct {
	Browser        string
	BrowserVersion string
	OS             string
	DeviceType     string
	Bot            bool
	BotReason      string
}

// UserAgents parses User-Agent headers. It is safe for concurrent use; the
// parsers are built once (NewUserAgents takes a few milliseconds).
type UserAgents struct {
	parser   *useragent.Parser
	crawlers *crawlerdetect.CrawlerDetect

	mu    sync.Mutex
	cache map[string]Agent // a few thousand distinct headers cover most traffic
}

// cacheSize bounds the cache; past it the cache starts over.
const cacheSize = 4096

// NewUserAgents builds the parsers.
func NewUserAgents() *UserAgents {
	return &UserAgents{
		parser:   useragent.NewParser(),
		crawlers: crawlerdetect.New(),
		cache:    make(map[string]Agent),
	}
}

// Parse describes ua. Hostile input (megabytes, control characters,
// invalid UTF-8) is cut and cleaned first, so the cost is bounded.
func (u *UserAgents) Parse(ua string) Agent {
	ua = sanitize(ua, maxUserAgent)
	u.mu.Lock()
	a, ok := u.cache[ua]
	u.mu.Unlock()
	if ok {
		return a
	}
	a = u.parse(ua)
	u.mu.Lock()
	if len(u.cache) >= cacheSize {
		clear(u.cache)
	}
	u.cache[ua] = a
	u.mu.Unlock()
	return a
}

func (u *UserAgents) parse(ua string) Agent {
	if strings.TrimSpace(ua) == "" {
		return Agent{DeviceType: DeviceBot, Bot: true, BotReason: BotNoUserAgent}
	}
	p := u.parser.Parse(ua)
	a := Agent{
		Browser:        string(p.Browser()),
		BrowserVersion: p.BrowserVersion(),
		OS:             string(p.OS()),
		DeviceType:     deviceType(p.Device()),
	}
	switch {
	case strings.Contains(ua, "HeadlessChrome") || strings.Contains(ua, "PhantomJS"):
		a.Bot, a.BotReason = true, BotHeadless
	case (a.Browser == "" || suspicious(ua)) && u.crawlers.IsCrawler(ua):
		a.Bot, a.BotReason = true, BotCrawlerList
	case p.IsBot():
		a.Bot, a.BotReason = true, BotParser
	}
	if a.Bot {
		a.DeviceType = DeviceBot
	}
	return a
}

// suspectWords are found in nearly every crawler, tool and library agent
// that also names a browser. The crawler list is one large regular
// expression (about 300 µs a string); a header in which the parser found a
// browser and none of these words is not checked against it, so that
// ordinary traffic, and a flood of made-up headers, stays cheap.
var suspectWords = []string{"bot", "crawl", "spider", "slurp", "http", "fetch", "scan", "curl",
	"wget", "python", "java", "go-", "ruby", "perl", "php", "node", "axios", "headless",
	"preview", "monitor", "check", "lighthouse", "archive", "proxy", "search", "validator"}

func suspicious(ua string) bool {
	lower := strings.ToLower(ua)
	for _, w := range suspectWords {
		if strings.Contains(lower, w) {
			return true
		}
	}
	return false
}

func deviceType(d agents.Device) string {
	switch d {
	case agents.DeviceDesktop:
		return DeviceDesktop
	case agents.DeviceMobile:
		return DeviceMobile
	case agents.DeviceTablet:
		return DeviceTablet
	case agents.DeviceBot:
		return DeviceBot
	}
	return DeviceOther
}

// sanitize cuts s to at most n bytes at a character boundary and replaces
// control characters and invalid UTF-8 with spaces, so that what is stored
// and shown is plain text.
func sanitize(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	clean := true
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= utf8.RuneSelf {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r == utf8.RuneError || r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		b.WriteRune(r)
	}
	return b.String()
}
