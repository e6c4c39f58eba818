package engage

import (
	"encoding/json"
	"net/url"
	"time"
	"unicode/utf8"

	"github.com/visitrack/visitrack/shared/protocol"
)

// Rule watches a visit and makes an offer when all its When conditions
// hold and no Unless forbids it (docs/engagement.md).
type Rule struct {
	ID        string      `json:"id"`
	Version   int64       `json:"version"`
	Name      string      `json:"name"`
	When      []Condition `json:"when"`
	Unless    Unless      `json:"unless"`
	Then      Then        `json:"then"`
	Pacing    Pacing      `json:"pacing"`
	Goal      string      `json:"goal,omitempty"`
	CreatedAt time.Time   `json:"createdAt"`
	UpdatedAt time.Time   `json:"updatedAt"`
}

// Condition is one of a rule's When conditions; exactly one field is set.
type Condition struct {
	Event       *EventCondition `json:"event,omitempty"`
	Page        *PageCondition  `json:"page,omitempty"`
	Dwell       *DwellCondition `json:"dwell,omitempty"`
	Count       *CountCondition `json:"count,omitempty"`
	Visit       *VisitCondition `json:"visit,omitempty"`
	VisitorData Comparisons     `json:"visitorData,omitempty"`
}

// EventCondition holds once the visit stored an event named Name whose
// data satisfies Data.
type EventCondition struct {
	Name string      `json:"name"`
	Data Comparisons `json:"data,omitempty"`
}

// PageCondition holds while the visit's current page is in Category.
type PageCondition struct {
	Category string `json:"category"`
}

// DwellCondition holds once the current page (On "page") or the visit (On
// "visit") has lasted AtLeast.
type DwellCondition struct {
	On      string   `json:"on"`
	AtLeast Duration `json:"atLeast"`
}

// CountCondition holds when at least AtLeast events matching Of (an event
// or a page condition) were stored within the last Within.
type CountCondition struct {
	AtLeast int       `json:"atLeast"`
	Within  Duration  `json:"within"`
	Of      Condition `json:"of"`
}

// VisitCondition holds when the visit's state and verified flag are as
// given (an empty State or a nil Verified accepts any).
type VisitCondition struct {
	State    string `json:"state,omitempty"`
	Verified *bool  `json:"verified,omitempty"`
}

// Unless forbids an offer: one of the same rule made to the visitor within
// OfferedWithin, MaxPerVisitorPerDay offers of any rule made to the visitor
// in the last 24 hours, or the time of day within QuietHours.
type Unless struct {
	OfferedWithin       Duration    `json:"offeredWithin,omitempty"`
	MaxPerVisitorPerDay int         `json:"maxPerVisitorPerDay,omitempty"`
	QuietHours          *QuietHours `json:"quietHours,omitempty"`
}

// QuietHours is a daily period, From to To ("22:00" to "07:00" crosses
// midnight), in the time zone TZ (an IANA name; UTC when empty).
type QuietHours struct {
	From string `json:"from"`
	To   string `json:"to"`
	TZ   string `json:"tz,omitempty"`

	from, to int // minutes of the day
	loc      *time.Location
}

// Then is what a rule does: an offer.
type Then struct {
	Offer Offer `json:"offer"`
}

// Offer is sent to the visit's open pages on Channel with Data; it times
// out after TTL.
type Offer struct {
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data,omitempty"`
	TTL     Duration        `json:"ttl"`
}

// Pacing caps a rule's offers: PerMinute (0 for no cap) and, with
// CapacityURL, only while it answers {"available": n} with n > 0.
type Pacing struct {
	PerMinute   int    `json:"perMinute,omitempty"`
	CapacityURL string `json:"capacityUrl,omitempty"`
}

// Limits of a rule.
const (
	MaxRules      = 500
	maxConditions = 16
	maxCount      = 1000
	maxDataBytes  = 16 << 10
	// DefaultTTL is an offer's life when the rule gives none.
	DefaultTTL = 30 * time.Second
)

// ParseRule reads a rule's JSON and validates it. The error is an *Error
// whose Pointer names the faulty field ("/when/0/count/within").
func ParseRule(b []byte) (*Rule, error) {
	o, err := object(json.RawMessage(b), "", "name", "when", "unless", "then", "pacing", "goal")
	if err != nil {
		return nil, err
	}
	r := &Rule{}
	if r.Name, err = name(o, "/name"); err != nil {
		return nil, err
	}
	conds, err := array(o["when"], "/when", 1, maxConditions)
	if err != nil {
		return nil, err
	}
	trigger := false
	for i, raw := range conds {
		c, err := condition(raw, "/when/"+itoa(i), false)
		if err != nil {
			return nil, err
		}
		trigger = trigger || c.Event != nil || c.Page != nil || c.Count != nil || c.Dwell != nil
		r.When = append(r.When, *c)
	}
	if !trigger {
		return nil, invalid("/when", "give at least one event, page, count or dwell condition: visit and visitorData conditions only narrow them")
	}
	if raw, ok := o["unless"]; ok {
		if err := r.Unless.parse(raw, "/unless"); err != nil {
			return nil, err
		}
	}
	then, err := object(o["then"], "/then", "offer")
	if err != nil {
		return nil, err
	}
	if err := r.Then.Offer.parse(then["offer"], "/then/offer"); err != nil {
		return nil, err
	}
	if raw, ok := o["pacing"]; ok {
		if err := r.Pacing.parse(raw, "/pacing"); err != nil {
			return nil, err
		}
	}
	if raw, ok := o["goal"]; ok {
		if r.Goal, err = str(raw, "/goal"); err != nil {
			return nil, err
		}
		if r.Goal == "" || len(r.Goal) > protocol.MaxNameLen || protocol.IsSystemEvent(r.Goal) {
			return nil, invalid("/goal", "want the name of a business event")
		}
	}
	return r, nil
}

func condition(raw json.RawMessage, p string, inCount bool) (*Condition, error) {
	allowed := []string{"event", "page", "dwell", "count", "visit", "visitorData"}
	if inCount {
		allowed = []string{"event", "page"}
	}
	o, err := object(raw, p, allowed...)
	if err != nil {
		return nil, err
	}
	if len(o) != 1 {
		return nil, invalid(p, "give exactly one condition of "+joinQuoted(allowed))
	}
	c := &Condition{}
	for k, raw := range o {
		p := p + "/" + k
		switch k {
		case "event":
			eo, err := object(raw, p, "name", "data")
			if err != nil {
				return nil, err
			}
			c.Event = &EventCondition{}
			if c.Event.Name, err = str(eo["name"], p+"/name"); err != nil {
				return nil, err
			}
			if c.Event.Name == "" || len(c.Event.Name) > protocol.MaxNameLen {
				return nil, invalid(p+"/name", "not a valid event name")
			}
			if raw, ok := eo["data"]; ok {
				if c.Event.Data, err = comparisons(raw, p+"/data"); err != nil {
					return nil, err
				}
			}
		case "page":
			po, err := object(raw, p, "category")
			if err != nil {
				return nil, err
			}
			cat, err := name(po, "/category")
			if err != nil {
				return nil, invalid(p+"/category", err.(*Error).Message)
			}
			c.Page = &PageCondition{Category: cat}
		case "dwell":
			do, err := object(raw, p, "on", "atLeast")
			if err != nil {
				return nil, err
			}
			c.Dwell = &DwellCondition{}
			if c.Dwell.On, err = str(do["on"], p+"/on"); err != nil {
				return nil, err
			}
			if c.Dwell.On != "page" && c.Dwell.On != "visit" {
				return nil, invalid(p+"/on", `want "page" or "visit"`)
			}
			if c.Dwell.AtLeast, err = duration(do["atLeast"], p+"/atLeast", time.Second, 24*time.Hour); err != nil {
				return nil, err
			}
		case "count":
			co, err := object(raw, p, "atLeast", "within", "of")
			if err != nil {
				return nil, err
			}
			c.Count = &CountCondition{}
			if c.Count.AtLeast, err = integer(co["atLeast"], p+"/atLeast", 1, maxCount); err != nil {
				return nil, err
			}
			if c.Count.Within, err = duration(co["within"], p+"/within", time.Second, 24*time.Hour); err != nil {
				return nil, err
			}
			of, err := condition(co["of"], p+"/of", true)
			if err != nil {
				return nil, err
			}
			c.Count.Of = *of
		case "visit":
			vo, err := object(raw, p, "state", "verified")
			if err != nil {
				return nil, err
			}
			c.Visit = &VisitCondition{}
			if raw, ok := vo["state"]; ok {
				if c.Visit.State, err = str(raw, p+"/state"); err != nil {
					return nil, err
				}
				switch c.Visit.State {
				case protocol.StateAnonymous, protocol.StateRecognized, protocol.StateAuthenticated:
				default:
					return nil, invalid(p+"/state", `want "anonymous", "recognized" or "authenticated"`)
				}
			}
			if raw, ok := vo["verified"]; ok {
				v, err := boolean(raw, p+"/verified")
				if err != nil {
					return nil, err
				}
				c.Visit.Verified = &v
			}
		case "visitorData":
			if c.VisitorData, err = comparisons(raw, p); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (u *Unless) parse(raw json.RawMessage, p string) error {
	o, err := object(raw, p, "offeredWithin", "maxPerVisitorPerDay", "quietHours")
	if err != nil {
		return err
	}
	if raw, ok := o["offeredWithin"]; ok {
		if u.OfferedWithin, err = duration(raw, p+"/offeredWithin", time.Second, 365*24*time.Hour); err != nil {
			return err
		}
	}
	if raw, ok := o["maxPerVisitorPerDay"]; ok {
		if u.MaxPerVisitorPerDay, err = integer(raw, p+"/maxPerVisitorPerDay", 1, maxCount); err != nil {
			return err
		}
	}
	if raw, ok := o["quietHours"]; ok {
		q := &QuietHours{}
		qo, err := object(raw, p+"/quietHours", "from", "to", "tz")
		if err != nil {
			return err
		}
		for _, k := range []string{"from", "to"} {
			s, err := str(qo[k], p+"/quietHours/"+k)
			if err != nil {
				return err
			}
			t, err := time.Parse("15:04", s)
			if err != nil {
				return invalid(p+"/quietHours/"+k, `want a time of day such as "22:00"`)
			}
			if k == "from" {
				q.From, q.from = s, t.Hour()*60+t.Minute()
			} else {
				q.To, q.to = s, t.Hour()*60+t.Minute()
			}
		}
		q.loc = time.UTC
		if raw, ok := qo["tz"]; ok {
			if q.TZ, err = str(raw, p+"/quietHours/tz"); err != nil {
				return err
			}
			if q.loc, err = time.LoadLocation(q.TZ); err != nil {
				return invalid(p+"/quietHours/tz", "unknown time zone")
			}
		}
		u.QuietHours = q
	}
	return nil
}

// Quiet reports whether t is within the quiet hours.
func (q *QuietHours) Quiet(t time.Time) bool {
	if q == nil {
		return false
	}
	t = t.In(q.loc)
	m := t.Hour()*60 + t.Minute()
	if q.from <= q.to {
		return m >= q.from && m < q.to
	}
	return m >= q.from || m < q.to
}

func (of *Offer) parse(raw json.RawMessage, p string) error {
	o, err := object(raw, p, "channel", "data", "ttl")
	if err != nil {
		return err
	}
	if of.Channel, err = str(o["channel"], p+"/channel"); err != nil {
		return err
	}
	if !protocol.ValidNamespace(of.Channel) {
		return invalid(p+"/channel", "want a channel named like a visitor-data namespace (a lower-case letter, then up to 63 lower-case letters, digits and _)")
	}
	if raw, ok := o["data"]; ok {
		if len(raw) > maxDataBytes || !utf8.Valid(raw) {
			return invalid(p+"/data", "want JSON of at most 16 KiB")
		}
		of.Data = raw
	}
	of.TTL = Duration(DefaultTTL)
	if raw, ok := o["ttl"]; ok {
		if of.TTL, err = duration(raw, p+"/ttl", time.Second, time.Hour); err != nil {
			return err
		}
	}
	return nil
}

func (pc *Pacing) parse(raw json.RawMessage, p string) error {
	o, err := object(raw, p, "perMinute", "capacityUrl")
	if err != nil {
		return err
	}
	if raw, ok := o["perMinute"]; ok {
		if pc.PerMinute, err = integer(raw, p+"/perMinute", 1, 100_000); err != nil {
			return err
		}
	}
	if raw, ok := o["capacityUrl"]; ok {
		if pc.CapacityURL, err = str(raw, p+"/capacityUrl"); err != nil {
			return err
		}
		u, err := url.Parse(pc.CapacityURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(pc.CapacityURL) > 2048 {
			return invalid(p+"/capacityUrl", "want an http or https URL")
		}
	}
	return nil
}

func joinQuoted(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += ", "
		}
		out += `"` + x + `"`
	}
	return out
}
