package enrich

import (
	"strings"
	"unicode/utf8"
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

// Agent is what a User-Agent header says about the browser.
type Agent struct {
	Browser        string
	BrowserVersion string
	OS             string
	DeviceType     string
	Bot            bool
	BotReason      string
}

// AgentParser describes User-Agent headers. useragent.Parser is the one
// the native collector uses; nil leaves visits unclassified.
type AgentParser interface {
	Parse(userAgent string) Agent
}

// Clean cuts s to at most n bytes at a character boundary and replaces
// control characters and invalid UTF-8 with spaces, so that what is stored
// and shown is plain text.
func Clean(s string, n int) string {
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
