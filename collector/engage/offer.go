package engage

// Making an offer: the costlier checks a rule meets once its conditions
// hold, the offer recorded through the writer and shown in the visit's
// pages, and its timeout.

import (
	"context"
	"encoding/json"
	"time"

	"golang.org/x/time/rate"

	"github.com/visitrack/visitrack/collector"
)

// fire makes r's offer to v unless the costlier checks forbid it:
// visitor data, quiet hours, unless, pacing and capacity, in that order.
func (e *Engine) fire(ctx context.Context, r *crule, v *visit) {
	now := e.cfg.Now()
	log := e.cfg.Logger.With("ruleId", r.ID, "visitId", v.id)
	for i := range r.When {
		if cs := r.When[i].VisitorData; cs != nil {
			if e.cfg.VisitorData == nil {
				return
			}
			doc, err := e.cfg.VisitorData(ctx, v.id)
			if err != nil {
				log.Error("engage: read visitor data", "err", err)
				return
			}
			if !cs.Match(doc) {
				return
			}
		}
	}
	if r.Unless.QuietHours.Quiet(now) {
		return
	}
	if why, err := e.cfg.Recorder.Blocked(ctx, v.visitorID, r.Rule, now); err != nil || why != "" {
		if err != nil {
			log.Error("engage: read offers", "err", err)
		}
		return
	}
	if r.Pacing.PerMinute > 0 {
		l := e.limiters[r.ID]
		if l == nil || l.Burst() != r.Pacing.PerMinute {
			l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(r.Pacing.PerMinute)), r.Pacing.PerMinute)
			e.limiters[r.ID] = l
		}
		if !l.AllowN(now, 1) {
			return
		}
	}
	if e.global != nil && !e.global.AllowN(now, 1) {
		return
	}
	if u := r.Pacing.CapacityURL; u != "" {
		a, ok := e.capacity[u]
		if !ok || now.Sub(a.at) > capacityTTL {
			n := 0
			if e.cfg.Capacity != nil {
				var err error
				if n, err = e.cfg.Capacity(ctx, u); err != nil {
					log.Warn("engage: capacity", "url", u, "err", err)
					n = 0
				}
			}
			a = capAnswer{n: n, at: now}
			e.capacity[u] = a
		}
		if a.n <= 0 {
			return
		}
	}
	m := &Made{OfferID: e.cfg.NewID(), RuleID: r.ID, RuleName: r.Name, VisitID: v.id,
		Channel: r.Then.Offer.Channel, Data: r.Then.Offer.Data, At: now,
		ExpiresAt: now.Add(time.Duration(r.Then.Offer.TTL)), Unless: r.Unless, Visit: r.Rule.visitHolds}
	for i := range r.When {
		if d := r.When[i].Dwell; d != nil {
			m.DwellSince = max(m.DwellSince, v.dwellFrom(d))
		}
	}
	if len(m.Data) == 0 {
		m.Data = json.RawMessage(`{}`)
	}
	ok, err := e.cfg.Recorder.Offer(ctx, m)
	if err != nil {
		log.Error("engage: record offer", "err", err)
		return
	}
	if !ok {
		return
	}
	e.offered.Add(1)
	v.offered(m.OfferID, r.ID)
	v.firedDwell(r)
	e.scheduleTimeout(m.OfferID, v.id, r.ID, m.ExpiresAt.Sub(now))
	if e.cfg.Notifier != nil {
		if _, err := e.cfg.Notifier.Notify(ctx, &collector.Notification{ID: m.OfferID, VisitID: v.id,
			Channel: m.Channel, Data: m.Data, Offer: &collector.OfferNotice{RuleID: r.ID, ExpiresAt: m.ExpiresAt}}); err != nil {
			log.Warn("engage: notify", "err", err)
		}
	}
}

func (e *Engine) scheduleTimeout(offerID, visitID, ruleID string, d time.Duration) {
	e.timeouts[offerID] = time.AfterFunc(max(d, 0), func() {
		select {
		case e.ticks <- tick{visitID: visitID, ruleID: ruleID, offerID: offerID}:
		case <-e.done:
		}
	})
}

// visitHolds checks r's visit conditions.
func (r *Rule) visitHolds(state string, verified bool) bool {
	for i := range r.When {
		if c := r.When[i].Visit; c != nil {
			if c.State != "" && c.State != state || c.Verified != nil && *c.Verified != verified {
				return false
			}
		}
	}
	return true
}
