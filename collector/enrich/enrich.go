package enrich

import "net/netip"

// Location is where an IP address is, as far as a GeoIP database knows.
// Country is an ISO 3166-1 alpha-2 code; Region the first subdivision's
// ISO code; City an English name.
type Location struct {
	Country string
	Region  string
	City    string
}

// Geo finds where an address is. Implementations must be safe for
// concurrent use; ok is false when the address is unknown.
type Geo interface {
	Locate(ip netip.Addr) (loc Location, ok bool)
}

// Input is what a visit's first request says.
type Input struct {
	UserAgent  string
	LandingURL string
	Referrer   string
	IP         string // the client address, after trusted proxies
}

// Visit is what enrichment adds to a visit.
type Visit struct {
	Agent
	ReferrerType string
	UTM          UTM
	ClickIDs     map[string]string
	Location
}

// Enricher describes visits. It is safe for concurrent use.
type Enricher struct {
	agents AgentParser
	geo    Geo
}

// New returns an Enricher. agents may be nil (user agents are not
// classified), and so may geo (no GeoIP database).
func New(agents AgentParser, geo Geo) *Enricher {
	return &Enricher{agents: agents, geo: geo}
}

// Visit describes the visit that in opens.
func (e *Enricher) Visit(in Input) Visit {
	var v Visit
	if e.agents != nil {
		v.Agent = e.agents.Parse(in.UserAgent)
	}
	v.UTM, v.ClickIDs = Campaign(in.LandingURL)
	v.ReferrerType = ReferrerType(in.Referrer, in.LandingURL, v.UTM, v.ClickIDs)
	if e.geo != nil {
		if ip, err := netip.ParseAddr(in.IP); err == nil {
			if loc, ok := e.geo.Locate(ip.Unmap()); ok {
				v.Location = loc
			}
		}
	}
	return v
}
