package engage

// A dry run replays a stored visit through one rule, on a fresh state, and
// tells when the rule would have made an offer or why it would not
// (docs/engagement.md, "Dry run"). It follows the engine's order of
// evaluation (which events make a rule worth checking, the event, page,
// count and dwell conditions, then visitor data, visit, quiet hours and
// the other unless clauses) but is pure: it reads the clock of the stored
// events, arms no timer and records nothing. Pacing and capacity are not
// tried: they depend on the other visits of that moment.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// MaxDryRunEvents bounds the events a dry run replays: a longer visit is
// refused rather than read whole into memory.
const MaxDryRunEvents = 10_000

// maxDryCandidates bounds the candidates an answer lists; the offers are
// counted beyond it.
const maxDryCandidates = 1000

// DryVisit is a stored visit as a dry run replays it.
type DryVisit struct {
	VisitID string
	// StartedAt and EndedAt are the visit's stored times (ms); EndedAt is
	// 0 while the visit is open.
	StartedAt, EndedAt int64
	// State and Verified are the visit's as stored now, for the rule's
	// visit conditions.
	State    string
	Verified bool
	// Events are the stored events, in stored order.
	Events []DryEvent
}

// DryEvent is a stored event with its id and its page's stored
// categories. URL is needed for PageEntered only, Data for the names
// DataNames gives.
type DryEvent struct {
	EventID, PageID, Name, URL, Data string
	At                               int64 // ms, the corrected time
	Categories                       []string
}

// DataNames are the names of the events whose data the rule compares: a
// dry run reads no other event's data.
func (r *Rule) DataNames() []string {
	var names []string
	add := func(c *EventCondition) {
		if c != nil && len(c.Data) > 0 && !slices.Contains(names, c.Name) {
			names = append(names, c.Name)
		}
	}
	for i := range r.When {
		add(r.When[i].Event)
		if c := r.When[i].Count; c != nil {
			add(c.Of.Event)
		}
	}
	return names
}

// DryResult is a dry run's answer.
type DryResult struct {
	RuleID  string `json:"ruleId,omitempty"`
	VisitID string `json:"visitId"`
	// Events is how many stored events were replayed.
	Events int `json:"events"`
	// Offers is how many offers the rule would have made.
	Offers int `json:"offers"`
	// FirstOffer is the candidate of the first offer; nil when none.
	FirstOffer *DryCandidate `json:"firstOffer"`
	// Candidates are the moments the engine would have checked the rule,
	// in order, each with its outcome; at most maxDryCandidates.
	Candidates        []DryCandidate `json:"candidates"`
	OmittedCandidates int            `json:"omittedCandidates"`
}

// Outcomes of a candidate.
const (
	DryOffered = "offered" // the rule would have made an offer
	DryUnmet   = "unmet"   // a when condition did not hold
	DryBlocked = "blocked" // an unless clause held
	DryWaiting = "waiting" // all held but a dwell not yet reached: checked again when it is
)

// DryCandidate is one moment the engine would have checked the rule: a
// stored event that could make it true (Trigger "event"), or a dwell
// reached between events (Trigger "dwell", no EventID).
type DryCandidate struct {
	Trigger string    `json:"trigger"`
	EventID string    `json:"eventId,omitempty"`
	Event   string    `json:"event,omitempty"`
	At      time.Time `json:"at"`
	PageID  string    `json:"pageId,omitempty"`
	URL     string    `json:"url,omitempty"`
	Outcome string    `json:"outcome"`
	// Pointer is the JSON pointer, in the rule, of the condition that did
	// not hold or of the unless clause that did ("/when/1",
	// "/unless/quietHours"); "" for an offer.
	Pointer string `json:"pointer,omitempty"`
	Reason  string `json:"reason,omitempty"`
}

// DryRun replays v's events through r. visitorData returns the visit's
// visitor-data document (read once, only for a rule with visitorData
// conditions; nil compares as an empty document); now is when the dry run
// runs: a dwell still pending on an open visit is reached if it is due by
// then. Only a failure of visitorData, or ctx ending, is an error.
func DryRun(ctx context.Context, r *Rule, v *DryVisit, visitorData func(context.Context) (any, error), now time.Time) (*DryResult, error) {
	s := &dryState{r: r, v: v, visitorData: visitorData, startedAt: v.StartedAt, urls: map[string]string{},
		seen: make([]bool, len(r.When)), counts: make([][]int64, len(r.When)), dwellFired: make([]int64, len(r.When)),
		res: &DryResult{RuleID: r.ID, VisitID: v.VisitID, Candidates: []DryCandidate{}}}
	end := v.EndedAt
	if end == 0 {
		end = now.UnixMilli()
	}
	for i := range v.Events {
		ev := &v.Events[i]
		if i%256 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A dwell timer due before this event fires first, as the
		// engine's timer would have.
		if s.pending != 0 && s.pending <= ev.At {
			if err := s.dueDwell(ctx); err != nil {
				return nil, err
			}
		}
		s.res.Events++
		if ev.Name == protocol.EventVisitEnded {
			// The engine forgets an ended visit: nothing after counts.
			end = min(end, ev.At)
			s.pending = 0
			break
		}
		if s.apply(ev) {
			if err := s.check(ctx, s.candidate("event", ev.At, ev)); err != nil {
				return nil, err
			}
		}
	}
	if s.pending != 0 && s.pending <= end {
		if err := s.dueDwell(ctx); err != nil {
			return nil, err
		}
	}
	return s.res, nil
}

type dryState struct {
	r           *Rule
	v           *DryVisit
	visitorData func(context.Context) (any, error)
	doc         any
	docRead     bool

	startedAt, pageAt int64
	pageID, url       string
	urls              map[string]string // page id → its URL, from PageEntered
	cats              []string
	seen              []bool    // an event condition's event was seen
	counts            [][]int64 // a count condition's latest AtLeast times
	dwellFired        []int64   // a dwell condition → the page or visit start it offered for
	pending           int64     // when the armed dwell timer is due; 0 for none
	offers            []int64   // the offers the dry run made
	res               *DryResult
}

// apply updates the state with ev and tells whether ev makes the rule
// worth checking, as the engine decides it.
func (s *dryState) apply(ev *DryEvent) bool {
	switch ev.Name {
	case protocol.EventVisitStarted:
		s.startedAt = ev.At
	case protocol.EventPageEntered:
		s.pageAt, s.pageID, s.url, s.cats = ev.At, ev.PageID, ev.URL, ev.Categories
		s.urls[ev.PageID] = ev.URL
		s.pending = 0 // the engine stops a visit's dwell timers on a new page
	}
	r := s.r
	if !r.triggeredBy(ev.Name) {
		return false
	}
	relevant := false
	for i := range r.When {
		c := &r.When[i]
		switch {
		case c.Event != nil:
			if eventHolds(c.Event, ev) {
				s.seen[i], relevant = true, true
			}
		case c.Page != nil:
			relevant = relevant || ev.Name == protocol.EventPageEntered && slices.Contains(s.cats, c.Page.Category)
		case c.Count != nil:
			of := &c.Count.Of
			if of.Event != nil && eventHolds(of.Event, ev) ||
				of.Page != nil && ev.Name == protocol.EventPageEntered && slices.Contains(s.cats, of.Page.Category) {
				s.counts[i] = append(s.counts[i], ev.At)
				if n := c.Count.AtLeast; len(s.counts[i]) > n {
					s.counts[i] = s.counts[i][len(s.counts[i])-n:]
				}
				relevant = true
			}
		case c.Dwell != nil:
			if s.pending == 0 && s.dwellFired[i] != s.dwellFrom(c.Dwell) {
				relevant = true
			}
		}
	}
	return relevant
}

func eventHolds(c *EventCondition, ev *DryEvent) bool {
	return c.Name == ev.Name && (len(c.Data) == 0 || c.Data.MatchJSON(ev.Data))
}

func (s *dryState) dwellFrom(d *DwellCondition) int64 {
	if d.On == "page" {
		return s.pageAt
	}
	return s.startedAt
}

// candidate starts the record of a check at (ms), for ev or, when nil, for
// a dwell reached on the current page.
func (s *dryState) candidate(trigger string, at int64, ev *DryEvent) *DryCandidate {
	c := &DryCandidate{Trigger: trigger, At: time.UnixMilli(at).UTC(), PageID: s.pageID, URL: s.url}
	if ev != nil {
		c.EventID, c.Event, c.PageID, c.URL = ev.EventID, ev.Name, ev.PageID, s.urls[ev.PageID]
	}
	return c
}

// dueDwell is the engine's dwell timer firing: the rule is checked at the
// time it was due.
func (s *dryState) dueDwell(ctx context.Context) error {
	due := s.pending
	s.pending = 0
	return s.check(ctx, s.candidate("dwell", due, nil))
}

// check evaluates the rule at c.At and records c with its outcome.
func (s *dryState) check(ctx context.Context, c *DryCandidate) error {
	now := c.At.UnixMilli()
	r := s.r
	// The engine's check: event, page, count and dwell conditions.
	var wait int64
	var waitOn int
	for i := range r.When {
		w := &r.When[i]
		p := "/when/" + itoa(i)
		switch {
		case w.Event != nil:
			if !s.seen[i] {
				return s.record(c, DryUnmet, p, "no "+w.Event.Name+" event"+withData(w.Event.Data)+" yet in the visit")
			}
		case w.Page != nil:
			if !slices.Contains(s.cats, w.Page.Category) {
				return s.record(c, DryUnmet, p, "the current page is not in category "+quote(w.Page.Category)+pageCats(s.cats))
			}
		case w.Count != nil:
			within := time.Duration(w.Count.Within).Milliseconds()
			n := 0
			for _, t := range s.counts[i] {
				if t > now-within {
					n++
				}
			}
			if n < w.Count.AtLeast {
				return s.record(c, DryUnmet, p, fmt.Sprintf("%d of the %d matching events needed within %s", n, w.Count.AtLeast, time.Duration(w.Count.Within)))
			}
		case w.Dwell != nil:
			from := s.dwellFrom(w.Dwell)
			if from == 0 {
				return s.record(c, DryUnmet, p, "no page entered yet")
			}
			if due := from + time.Duration(w.Dwell.AtLeast).Milliseconds(); due > now && due-now > wait {
				wait, waitOn = due-now, i
			}
		}
	}
	if wait > 0 {
		d := r.When[waitOn].Dwell
		s.pending = now + wait
		return s.record(c, DryWaiting, "/when/"+itoa(waitOn), fmt.Sprintf("the %s has lasted %s of %s: checked again at %s", d.On,
			time.Duration(now-s.dwellFrom(d))*time.Millisecond, time.Duration(d.AtLeast),
			time.UnixMilli(s.pending).UTC().Format(time.RFC3339Nano)))
	}
	// The engine's fire and the writer's checks: visitor data, the
	// visit, quiet hours, the unless clauses, one offer per dwell.
	for i := range r.When {
		w := &r.When[i]
		p := "/when/" + itoa(i)
		switch {
		case w.VisitorData != nil:
			if !s.docRead {
				s.docRead = true
				if s.visitorData != nil {
					var err error
					if s.doc, err = s.visitorData(ctx); err != nil {
						return fmt.Errorf("dry run: visitor data of visit %s: %w", s.v.VisitID, err)
					}
				}
			}
			if !w.VisitorData.Match(s.doc) {
				return s.record(c, DryUnmet, p, "the visitor data (as stored now) does not match")
			}
		case w.Visit != nil:
			if w.Visit.State != "" && w.Visit.State != s.v.State || w.Visit.Verified != nil && *w.Visit.Verified != s.v.Verified {
				return s.record(c, DryUnmet, p, fmt.Sprintf("the visit is %s, verified %t (as stored now)", s.v.State, s.v.Verified))
			}
		}
	}
	if q := r.Unless.QuietHours; q.Quiet(c.At) {
		return s.record(c, DryBlocked, "/unless/quietHours", fmt.Sprintf("%s is within the quiet hours %s to %s (%s)",
			c.At.In(q.loc).Format("15:04"), q.From, q.To, q.loc))
	}
	if within := time.Duration(r.Unless.OfferedWithin).Milliseconds(); within > 0 {
		for _, t := range s.offers {
			if t > now-within {
				return s.record(c, DryBlocked, "/unless/offeredWithin", "the rule would have offered at "+
					time.UnixMilli(t).UTC().Format(time.RFC3339Nano)+", within "+time.Duration(r.Unless.OfferedWithin).String())
			}
		}
	}
	if perDay := r.Unless.MaxPerVisitorPerDay; perDay > 0 {
		n := 0
		for _, t := range s.offers {
			if t > now-86_400_000 {
				n++
			}
		}
		if n >= perDay {
			return s.record(c, DryBlocked, "/unless/maxPerVisitorPerDay", fmt.Sprintf("the rule would have made %d offers in the 24 hours before", n))
		}
	}
	// The writer refuses a dwell's second offer since the page (or
	// visit) it counted from began.
	since, on := int64(0), -1
	for i := range r.When {
		if d := r.When[i].Dwell; d != nil && s.dwellFrom(d) > since {
			since, on = s.dwellFrom(d), i
		}
	}
	if on >= 0 && len(s.offers) > 0 && s.offers[len(s.offers)-1] >= since {
		return s.record(c, DryBlocked, "/when/"+itoa(on), "the rule already offered since this "+r.When[on].Dwell.On+" began: a dwell makes one offer")
	}
	s.offers = append(s.offers, now)
	for i := range r.When {
		if d := r.When[i].Dwell; d != nil {
			s.dwellFired[i] = s.dwellFrom(d)
		}
	}
	s.res.Offers++
	if err := s.record(c, DryOffered, "", ""); err != nil {
		return err
	}
	if s.res.FirstOffer == nil {
		first := *c
		s.res.FirstOffer = &first
	}
	return nil
}

// record notes c's outcome. It returns nil, so that check can end with
// it.
func (s *dryState) record(c *DryCandidate, outcome, pointer, reason string) error {
	c.Outcome, c.Pointer, c.Reason = outcome, pointer, reason
	if len(s.res.Candidates) < maxDryCandidates {
		s.res.Candidates = append(s.res.Candidates, *c)
	} else {
		s.res.OmittedCandidates++
	}
	return nil
}

func withData(cs Comparisons) string {
	if len(cs) == 0 {
		return ""
	}
	return " with matching data"
}

func pageCats(cats []string) string {
	if len(cats) == 0 {
		return " (it has none)"
	}
	q := make([]string, len(cats))
	for i, c := range cats {
		q[i] = quote(c)
	}
	return " (it is in " + strings.Join(q, ", ") + ")"
}

func quote(s string) string { return `"` + s + `"` }
