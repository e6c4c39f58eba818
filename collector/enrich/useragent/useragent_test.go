package useragent

import (
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/enrich"
)

// Real User-Agent headers, as browsers and bots send them.
var realAgents = []struct {
	name, ua string
	want     enrich.Agent
}{
	{"Chrome on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		enrich.Agent{Browser: "Chrome", BrowserVersion: "131.0.0.0", OS: "Windows", DeviceType: enrich.DeviceDesktop}},
	{"Firefox on Linux", "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
		enrich.Agent{Browser: "Firefox", BrowserVersion: "133.0", OS: "Linux", DeviceType: enrich.DeviceDesktop}},
	{"Safari on iPhone", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
		enrich.Agent{Browser: "Safari", BrowserVersion: "18.1", OS: "iOS", DeviceType: enrich.DeviceMobile}},
	{"Samsung Internet", "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36",
		enrich.Agent{Browser: "Samsung Browser", BrowserVersion: "26.0", OS: "Android", DeviceType: enrich.DeviceMobile}},
	{"Safari on iPad", "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
		enrich.Agent{Browser: "Safari", BrowserVersion: "17.6", OS: "iOS", DeviceType: enrich.DeviceTablet}},
	{"Galaxy Tab, Samsung Internet", "Mozilla/5.0 (Linux; Android 12; SAMSUNG SM-T500) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/20.0 Chrome/106.0.5249.126 Safari/537.36",
		enrich.Agent{Browser: "Samsung Browser", BrowserVersion: "20.0", OS: "Android", DeviceType: enrich.DeviceTablet}},
	{"Fire tablet, Silk", "Mozilla/5.0 (Linux; Android 9; KFTRPWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/110.6.7 like Chrome/110.0.5481.212 Safari/537.36",
		enrich.Agent{Browser: "Amazon Silk", BrowserVersion: "110.6.7", OS: "Android", DeviceType: enrich.DeviceTablet}},
	{"Chrome on an Android tablet, reduced", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Safari/537.36",
		enrich.Agent{Browser: "Chrome", BrowserVersion: "114.0.0.0", OS: "Android", DeviceType: enrich.DeviceTablet}},
	{"Chrome on an Android phone, reduced", "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.0.0 Mobile Safari/537.36",
		enrich.Agent{Browser: "Chrome", BrowserVersion: "114.0.0.0", OS: "Android", DeviceType: enrich.DeviceMobile}},
	{"Firefox on an Android tablet", "Mozilla/5.0 (Android 7.0; Tablet; rv:109.0) Gecko/110.0 Firefox/110.0",
		enrich.Agent{Browser: "Firefox", BrowserVersion: "110.0", OS: "Android", DeviceType: enrich.DeviceTablet}},
	{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
		enrich.Agent{DeviceType: enrich.DeviceBot, Bot: true, BotReason: enrich.BotCrawlerList}},
	{"curl", "curl/8.5.0", enrich.Agent{DeviceType: enrich.DeviceBot, Bot: true, BotReason: enrich.BotCrawlerList}},
	{"headless Chromium", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
		enrich.Agent{DeviceType: enrich.DeviceBot, Bot: true, BotReason: enrich.BotHeadless}},
	{"no header", "", enrich.Agent{DeviceType: enrich.DeviceBot, Bot: true, BotReason: enrich.BotNoUserAgent}},
}

func TestParseRealAgents(t *testing.T) {
	u := New()
	for _, tc := range realAgents {
		got := u.Parse(tc.ua)
		if tc.want.Bot {
			// For bots only the verdict matters; browser fields are
			// whatever the parser made of the string.
			if !got.Bot || got.BotReason != tc.want.BotReason || got.DeviceType != enrich.DeviceBot {
				t.Errorf("%s: got %+v, want a bot (%s)", tc.name, got, tc.want.BotReason)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestParseCachedEqualsFresh(t *testing.T) {
	u := New()
	for _, tc := range realAgents {
		first, second := u.Parse(tc.ua), u.Parse(tc.ua)
		if first != second {
			t.Errorf("%s: cached %+v != fresh %+v", tc.name, second, first)
		}
	}
}

func TestParseHostileAgents(t *testing.T) {
	u := New()
	hostile := []string{
		strings.Repeat("Mozilla/5.0 ", 1000),            // 12 KB
		"Mozilla/5.0\x00\x01\x1b[31m (Windows NT 10.0)", // control characters
		"Mozilla/5.0 \xff\xfe\xc3 Chrome/1.0",           // invalid UTF-8
		strings.Repeat("\xe2\x82\xac", 400),             // multi-byte, cut mid-character
	}
	for _, ua := range hostile {
		a := u.Parse(ua)
		for _, s := range []string{a.Browser, a.BrowserVersion, a.OS} {
			if len(s) > maxUserAgent {
				t.Errorf("field of %d bytes from a %d-byte header", len(s), len(ua))
			}
		}
	}
}

// Bots that present themselves as a browser, or as a library: each must be
// flagged, whichever rule finds it. Monitoring and SEO tools add their name
// to a whole browser string, which the parser recognises as a browser.
func TestParseMoreBots(t *testing.T) {
	u := New()
	for _, ua := range []string{
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
		"Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; +https://openai.com/gptbot",
		"facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
		"python-requests/2.32.3",
		"Go-http-client/1.1",
		"Wget/1.21.4",
		"Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0.0.0 Mobile Safari/537.36 Chrome-Lighthouse",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/117.0.0.0 Safari/537.36 GTmetrix",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) browser/2020.2.1 Chrome/78.0.3904.130 Electron/7.3.2 Safari/537.36 PingdomTMS/2020.2",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/107.0 Safari/537.36 Ghost Inspector (63c85ddbde52d6697f57c623)",
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/58.0.3029.81 Safari/537.36 PrintFriendly.com",
	} {
		if a := u.Parse(ua); !a.Bot || a.DeviceType != enrich.DeviceBot || a.BotReason == "" {
			t.Errorf("%q: %+v, want a bot", ua, a)
		}
	}
}
