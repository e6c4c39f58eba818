//go:build !js

package server

import (
	"context"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/engage"
)

// DryRun replays the stored visit visitID through rule r, without the
// engine: nothing is offered, stored or counted (docs/engagement.md, "Dry
// run"). ENOTFOUND for an unknown visit, EUNPROCESSABLE for one with more
// than engage.MaxDryRunEvents events.
func (g *engagement) DryRun(ctx context.Context, r *engage.Rule, visitID string) (*engage.DryResult, error) {
	v, err := g.store.LoadVisit(ctx, g.store.DB(), visitID)
	if err != nil {
		return nil, err
	}
	if v == nil {
		return nil, collector.Errorf(collector.ENOTFOUND, "visit %s not found", visitID)
	}
	rows, err := g.store.DryRunEvents(ctx, visitID, engage.MaxDryRunEvents+1, r.DataNames())
	if err != nil {
		return nil, err
	}
	if len(rows) > engage.MaxDryRunEvents {
		return nil, collector.Errorf(collector.EUNPROCESSABLE,
			"visit %s has more than %d events: a dry run replays at most %d; try a shorter visit", visitID, engage.MaxDryRunEvents, engage.MaxDryRunEvents)
	}
	dv := &engage.DryVisit{VisitID: visitID, StartedAt: v.StartedAt, EndedAt: v.EndedAt, State: v.State, Verified: v.Verified,
		Events: make([]engage.DryEvent, len(rows))}
	for i := range rows {
		e := &rows[i]
		dv.Events[i] = engage.DryEvent{EventID: e.EventID, PageID: e.PageID, Name: e.Name, URL: e.URL, Data: e.Data, At: e.At, Categories: e.Categories}
	}
	return engage.DryRun(ctx, r, dv, func(ctx context.Context) (any, error) { return g.document(ctx, visitID) }, g.now())
}
