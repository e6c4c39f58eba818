//go:build !js

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/engage"
	"github.com/visitrack/visitrack/collector/ingest"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// engagement joins the engine (package engage) to the store, the ingest
// writer and the visitor data (docs/engagement.md). It is the native
// collector's: the edge has no process to keep an engine in.
type engagement struct {
	engine      *engage.Engine
	store       *store.Store
	in          *ingest.Ingester
	visitorData collector.VisitorDataService
	reload      time.Duration
	now         func() time.Time // the engine's clock, for dry runs of open visits
	logger      *slog.Logger
	cancel      context.CancelFunc // ends reloadEvery
	done        chan struct{}      // closed when reloadEvery returned
}

func newEngagement(cfg Config, visitorData collector.VisitorDataService) *engagement {
	g := &engagement{store: cfg.Store, visitorData: visitorData, reload: cfg.EngagementReload, logger: cfg.Logger, now: cfg.EngagementNow}
	if g.now == nil {
		g.now = cfg.Now
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	capacity := cfg.EngagementCapacity
	if capacity == nil {
		capacity = func(_ context.Context, url string) (int, error) {
			return 0, fmt.Errorf("capacity %s: this collector asks no capacity URL", url)
		}
	}
	g.engine = engage.New(engage.Config{
		Recorder:    g,
		VisitorData: g.document,
		History:     g.history,
		OpenVisits:  g.openVisits,
		Capacity:    capacity,
		PerMinute:   cfg.EngagementPerMinute,
		QueueSize:   cfg.EngagementQueue,
		Shared:      cfg.Store.Shared(),
		Logger:      cfg.Logger,
		Now:         g.now,
	})
	return g
}

// attachEngagement builds the engine of a native collector and returns
// its categorizer for ingest (the edge runs none: engage_js.go).
func (s *Server) attachEngagement(cfg Config, visitorData collector.VisitorDataService) func() *engage.Categorizer {
	s.engage = newEngagement(cfg, visitorData)
	return s.engage.engine.Categorizer
}

// engageCommitted hands committed events to the engine.
func (s *Server) engageCommitted(rows []store.EventRow) {
	if s.engage != nil {
		s.engage.committed(rows)
	}
}

// startEngagement starts the engine once the ingester and the hub exist,
// and serves its REST API.
func (s *Server) startEngagement(ctx context.Context) error {
	if s.engage == nil {
		return nil
	}
	s.engage.in = s.ingester
	if err := s.engage.start(ctx, s.hub); err != nil {
		return err
	}
	s.api.HandleEngagement(s.cfg.Store, s.engage)
	s.api.HandleEngagementDryRun(s.cfg.Store, s.engage)
	return nil
}

// stopEngagement stops the engine, if it runs.
func (s *Server) stopEngagement() {
	if s.engage != nil {
		s.engage.stop()
	}
}

// Engagement is the engagement engine, for the metrics to watch; nil on
// the edge.
func (s *Server) Engagement() *engage.Engine {
	if s.engage == nil {
		return nil
	}
	return s.engage.engine
}

// start loads the rules and the offers still open, and runs the engine.
func (g *engagement) start(ctx context.Context, n collector.Notifier) error {
	g.engine.SetNotifier(n)
	if err := g.Reload(ctx); err != nil {
		return err
	}
	open, err := g.store.OpenOffers(ctx)
	if err != nil {
		return err
	}
	pending := make([]engage.OpenOffer, len(open))
	for i, o := range open {
		pending[i] = engage.OpenOffer{OfferID: o.OfferID, VisitID: o.VisitID, RuleID: o.RuleID, ExpiresAt: time.UnixMilli(o.ExpiresAt)}
	}
	g.engine.Start(pending)
	if g.reload > 0 {
		ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
		g.done = make(chan struct{})
		go g.reloadEvery(ctx)
	}
	return nil
}

// reloadEvery reads the rules and categories again every g.reload until
// ctx ends: on PostgreSQL other nodes change them too. A failed read keeps
// the ones read before, and is logged.
func (g *engagement) reloadEvery(ctx context.Context) {
	defer close(g.done)
	t := time.NewTicker(g.reload)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := g.Reload(ctx); err != nil && ctx.Err() == nil {
				g.logger.Warn("engage: reading the rules again failed; the ones read before stay", "err", err)
			}
		}
	}
}

// stop ends the reloads and the engine.
func (g *engagement) stop() {
	if g.cancel != nil {
		g.cancel()
		<-g.done
	}
	g.engine.Stop()
}

// Reload gives the engine the stored rules and categories; the API calls
// it after each change.
func (g *engagement) Reload(ctx context.Context) error {
	rules, err := g.store.Rules(ctx)
	if err != nil {
		return err
	}
	cats, err := g.store.Categories(ctx)
	if err != nil {
		return err
	}
	g.engine.SetRules(rules, cats)
	return nil
}

// committed hands the committed rows to the engine. It runs on the ingest
// writer: with no rule it does nothing, else one copy of the rows' fields.
func (g *engagement) committed(rows []store.EventRow) {
	if !g.engine.Active() {
		return
	}
	evs := make([]engage.Event, len(rows))
	for i := range rows {
		r := &rows[i]
		evs[i] = engage.Event{VisitID: r.VisitID, VisitorID: r.VisitorID, PageID: r.PageID, Name: r.Name,
			URL: r.URL, Title: r.Title, Data: r.Data, At: r.CorrectedAt}
	}
	g.engine.Committed(evs)
}

func (g *engagement) Blocked(ctx context.Context, visitorID string, r *engage.Rule, now time.Time) (string, error) {
	return g.store.OfferBlocked(ctx, g.store.DB(), visitorID, r.ID, now.UnixMilli(),
		time.Duration(r.Unless.OfferedWithin).Milliseconds(), r.Unless.MaxPerVisitorPerDay)
}

// subject is whose visitor data a visit shares: its identity's when
// verified, else its visitor's (as ingest.Visit.Subject).
func subject(v *store.VisitState) collector.Subject {
	if v.IdentityID != "" && v.Verified {
		return collector.Subject{Kind: collector.SubjectIdentity, ID: v.IdentityID}
	}
	return collector.Subject{Kind: collector.SubjectVisitor, ID: v.VisitorID}
}

func (g *engagement) Offer(ctx context.Context, m *engage.Made) (bool, error) {
	made := false
	err := g.in.System(ctx, m.VisitID, func(ctx context.Context, q store.Querier, v store.VisitState, now int64) ([]ingest.SystemEvent, error) {
		made = false
		if v.EndedAt != 0 || !m.Visit(v.State, v.Verified) {
			return nil, nil
		}
		if m.DwellSince > 0 {
			if made, err := g.store.OfferMadeSince(ctx, q, v.VisitID, m.RuleID, m.DwellSince); err != nil || made {
				return nil, err
			}
		}
		why, err := g.store.OfferBlocked(ctx, q, v.VisitorID, m.RuleID, now,
			time.Duration(m.Unless.OfferedWithin).Milliseconds(), m.Unless.MaxPerVisitorPerDay)
		if err != nil || why != "" {
			return nil, err
		}
		vd, err := g.visitorData.GetVisitorData(ctx, subject(&v))
		if err != nil {
			return nil, err
		}
		if err := g.store.InsertOffer(ctx, q, &store.OfferRow{OfferID: m.OfferID, RuleID: m.RuleID, VisitID: v.VisitID,
			VisitorID: v.VisitorID, OfferedAt: m.At.UnixMilli(), ExpiresAt: m.ExpiresAt.UnixMilli()}); err != nil {
			return nil, err
		}
		// expiresAt in the offer frame's text (milliseconds, as stored),
		// so that the page's offer, the history's and a webhook's compare.
		data, err := json.Marshal(map[string]any{"offerId": m.OfferID, "ruleId": m.RuleID, "rule": m.RuleName,
			"channel": m.Channel, "data": m.Data, "expiresAt": m.ExpiresAt.UTC().Format("2006-01-02T15:04:05.000Z07:00"),
			"visitorData": vd.Data})
		if err != nil {
			return nil, err
		}
		made = true
		return []ingest.SystemEvent{{Name: protocol.EventEngagementOffered, Data: data}}, nil
	})
	return made, err
}

func (g *engagement) TimeOut(ctx context.Context, offerID, visitID string) error {
	return g.in.System(ctx, visitID, func(ctx context.Context, q store.Querier, v store.VisitState, now int64) ([]ingest.SystemEvent, error) {
		ruleID, ok, err := g.store.SettleOffer(ctx, q, offerID, visitID, store.OutcomeTimedOut, now)
		if err != nil || !ok {
			return nil, err
		}
		data, err := json.Marshal(map[string]string{"offerId": offerID, "ruleId": ruleID})
		return []ingest.SystemEvent{{Name: protocol.EventEngagementTimedOut, Data: data}}, err
	})
}

func (g *engagement) Goal(ctx context.Context, visitID string, ruleIDs []string, at int64) error {
	return g.in.Maintain(ctx, func(ctx context.Context, tx ingest.Tx) error {
		return g.store.GoalReached(ctx, tx.Querier(), visitID, ruleIDs, at)
	})
}

// history is the visit's start and stored events, for the engine to
// rebuild the visit's state.
func (g *engagement) history(ctx context.Context, visitID string, since, before int64, limit int) (int64, []engage.Event, error) {
	started, rows, err := g.store.EngageHistory(ctx, visitID, since, before, limit)
	if err != nil || len(rows) == 0 {
		return started, nil, err
	}
	evs := make([]engage.Event, len(rows))
	for i, r := range rows {
		evs[i] = engage.Event{VisitID: visitID, PageID: r.PageID, Name: r.Name, URL: r.URL, Title: r.Title, Data: r.Data, At: r.At}
	}
	return started, evs, nil
}

// openVisits lists the visits still open, for the engine to time their
// dwells again at start.
func (g *engagement) openVisits(ctx context.Context, since int64, limit int) ([]engage.OpenVisit, error) {
	rows, err := g.store.EngageOpenVisits(ctx, since, limit)
	if err != nil {
		return nil, err
	}
	out := make([]engage.OpenVisit, len(rows))
	for i, r := range rows {
		out[i] = engage.OpenVisit{VisitID: r.VisitID, VisitorID: r.VisitorID}
	}
	return out, nil
}

// document is the decoded visitor data the visit shares.
func (g *engagement) document(ctx context.Context, visitID string) (any, error) {
	v, err := g.store.LoadVisit(ctx, g.store.DB(), visitID)
	if err != nil || v == nil {
		return nil, err
	}
	vd, err := g.visitorData.GetVisitorData(ctx, subject(v))
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(vd.Data, &doc); err != nil {
		return nil, fmt.Errorf("visitor data of visit %s: %w", visitID, err)
	}
	return doc, nil
}
