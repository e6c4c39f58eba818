package ingest

import (
	"encoding/json"

	"github.com/visitrack/visitrack/collector/enrich"
	"github.com/visitrack/visitrack/collector/store"
)

// insight describes a new visit with the configured enricher (none: the
// visit is stored unclassified). It is called on the caller's goroutine
// for a first contact, and on the writer only for the rarer new visits of
// a returning browser (a timeout), so the writer seldom parses.
func (in *Ingester) insight(c *Client, url, referrer string) store.VisitInsight {
	if in.cfg.Enricher == nil {
		return store.VisitInsight{}
	}
	v := in.cfg.Enricher.Visit(enrich.Input{UserAgent: c.UserAgent, LandingURL: url, Referrer: referrer, IP: c.IP})
	out := store.VisitInsight{
		Browser: v.Browser, BrowserVersion: v.BrowserVersion, OS: v.OS, DeviceType: v.DeviceType,
		Bot: v.Bot, BotReason: v.BotReason, ReferrerType: v.ReferrerType,
		UTMSource: v.UTM.Source, UTMMedium: v.UTM.Medium, UTMCampaign: v.UTM.Campaign,
		Country: v.Country, Region: v.Region, City: v.City,
	}
	if !v.UTM.IsZero() {
		b, _ := json.Marshal(v.UTM)
		out.UTM = string(b)
	}
	if len(v.ClickIDs) > 0 {
		b, _ := json.Marshal(v.ClickIDs)
		out.ClickIDs = string(b)
	}
	return out
}
