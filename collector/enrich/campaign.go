package enrich

import (
	"net/url"
	"strings"
)

// UTM is the campaign a landing URL names with utm_* parameters.
type UTM struct {
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
	Term     string `json:"term,omitempty"`
	Content  string `json:"content,omitempty"`
}

// IsZero reports whether no utm_* parameter was present.
func (u UTM) IsZero() bool { return u == UTM{} }

// ClickIDParams are the ad platforms' click-id parameters that are kept:
// they tie a visit to the ad click that brought it.
var clickIDParams = map[string]bool{
	"gclid": true, "gbraid": true, "wbraid": true, "dclid": true, // Google
	"fbclid": true, "msclkid": true, "ttclid": true, "twclid": true,
	"li_fat_id": true, "yclid": true, "epik": true, "rdt_cid": true,
	"sccid": true, "igshid": true, "mc_cid": true,
}

// Bounds on what a hostile landing URL can make us do or store.
const (
	maxQueryBytes  = 8 << 10 // of the query string looked at
	maxQueryParams = 256     // parameters looked at
	maxValueBytes  = 256     // of each value kept
)

// Campaign reads the UTM parameters and click ids of a landing URL. Broken
// escapes skip that parameter only; the first occurrence of a name wins.
func Campaign(landingURL string) (UTM, map[string]string) {
	var utm UTM
	var clicks map[string]string
	q := landingURL
	if i := strings.IndexByte(q, '?'); i >= 0 {
		q = q[i+1:]
	} else {
		return utm, nil
	}
	if i := strings.IndexByte(q, '#'); i >= 0 {
		q = q[:i]
	}
	if len(q) > maxQueryBytes {
		q = q[:maxQueryBytes]
	}
	for n := 0; q != "" && n < maxQueryParams; n++ {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			continue
		}
		key = strings.ToLower(key)
		var dst *string
		switch key {
		case "utm_source":
			dst = &utm.Source
		case "utm_medium":
			dst = &utm.Medium
		case "utm_campaign":
			dst = &utm.Campaign
		case "utm_term":
			dst = &utm.Term
		case "utm_content":
			dst = &utm.Content
		default:
			if !clickIDParams[key] {
				continue
			}
		}
		value, err := url.QueryUnescape(rawValue)
		if err != nil || value == "" {
			continue
		}
		value = Clean(value, maxValueBytes)
		if dst != nil {
			if *dst == "" {
				*dst = value
			}
			continue
		}
		if clicks == nil {
			clicks = make(map[string]string)
		}
		if _, seen := clicks[key]; !seen {
			clicks[key] = value
		}
	}
	return utm, clicks
}
