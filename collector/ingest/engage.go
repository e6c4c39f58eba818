package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/shared/protocol"
)

// answerOffer settles the offer a page's EngagementAccepted or
// EngagementDeclined names: only an open offer of this visit takes an
// answer (docs/engagement.md). An answer already stored (the same eventId,
// resent after a lost ack) is the same answer: acked again, stored once by
// the insert's deduplication. Other events never reach it, so the hot path
// pays one string comparison.
func (in *Ingester) answerOffer(ctx context.Context, b *batch, v *cachedVisit, e *decodedEvent, now int64) (*protocol.Rejection, error) {
	var data struct {
		OfferID string `json:"offerId"`
	}
	if e.Data.IsNull() || json.Unmarshal(e.Data, &data) != nil || !protocol.IsULID(data.OfferID) {
		return &protocol.Rejection{EventID: e.EventID, Code: protocol.CodeInvalidEvent,
			Message: e.Name + ` needs data {"offerId": …} naming the offer it answers`}, nil
	}
	outcome := store.OutcomeAccepted
	if e.Name == protocol.EventEngagementDeclined {
		outcome = store.OutcomeDeclined
	}
	_, ok, err := in.cfg.Store.SettleOffer(ctx, b.q, protocol.UpperULID(data.OfferID), v.VisitID, outcome, now)
	if err != nil || ok {
		return nil, err
	}
	if resent, err := in.cfg.Store.EventExists(ctx, b.q, e.EventID); err != nil || resent {
		return nil, err
	}
	return &protocol.Rejection{EventID: e.EventID, Code: protocol.CodeInvalidEvent,
		Message: "offer " + data.OfferID + " is not an open offer of this visit: it was answered, timed out or made to another visit"}, nil
}

// SystemEvent is an event the collector writes in a visit's history.
type SystemEvent struct {
	Name string
	Data json.RawMessage // a JSON object
}

// System runs fn in the writer's transaction, in order with the visit's
// other writes, and files the events it returns in the visit as the
// collector's own (like VisitEnded): they are announced to webhooks in the
// same transaction and reach the change feed after the commit. fn sees the
// visit as it stands; ENOTFOUND for an unknown visit. Not in Direct mode:
// the edge runs no engine.
func (in *Ingester) System(ctx context.Context, visitID string, fn func(ctx context.Context, q store.Querier, v store.VisitState, now int64) ([]SystemEvent, error)) error {
	if in.cfg.Direct {
		return errors.New("ingest: System needs the writer (not in Direct mode)")
	}
	var notFound bool
	err := in.enqueue(ctx, &job{control: func(ctx context.Context, b *batch) error {
		if in.shared {
			if err := in.ownVisit(ctx, b, visitID); err != nil {
				return err
			}
		}
		v := b.cache.get(visitID)
		if v == nil {
			st, err := in.cfg.Store.LoadVisit(ctx, b.q, visitID)
			if err != nil {
				return err
			}
			if st == nil {
				notFound = true
				return nil
			}
			v = b.cache.put(st)
		}
		now := in.now().UnixMilli()
		events, err := fn(ctx, b.q, v.VisitState, now)
		if err != nil {
			return err
		}
		for _, e := range events {
			b.rows = append(b.rows, store.EventRow{
				EventID: in.newID(), VisitID: v.VisitID, VisitKey: v.Key, VisitorID: v.VisitorID,
				SessionID: v.SessionID, IdentityID: v.IdentityID,
				Name: e.Name, Category: protocol.CategorySystem,
				Timestamp: now, CorrectedAt: now, ReceivedAt: now, Data: string(e.Data),
			})
		}
		return nil
	}})
	if err != nil {
		return fmt.Errorf("system event in visit %s: %w", visitID, err)
	}
	if notFound {
		return collector.Errorf(collector.ENOTFOUND, "visit %s not found", visitID)
	}
	return nil
}
