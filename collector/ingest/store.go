package ingest

import (
	"context"
	"database/sql"

	"github.com/visitrack/visitrack/collector/store"
)

// Store is what ingest needs of storage: the writes of the write path and
// the reads that decide them, each run on the writer's transaction (a
// store.Querier: a *sql.Tx natively, the *sql.DB at the edge), and what
// the engine under the store says about it (locks, retries, a full
// disk). package store's *Store is one on SQLite, D1 and PostgreSQL alike.
//
// It is declared here rather than in the domain package collector, beside
// the interfaces of the jobs, the webhooks and the browser endpoints,
// because its methods take the store's transaction and its row types
// (EventRow, VisitState, PageRow, …), which carry what one commit writes
// and would pull database/sql into the domain (docs/architecture.md#engines).
// Calling it costs one interface call a statement and no allocation.
type Store interface {
	// DB is the database the writer begins its transactions on.
	DB() *sql.DB
	// Shared reports whether other collectors write the database at once;
	// LockVisits then takes the locks of the visits a commit writes, and
	// Retryable tells a transaction that failed only for running beside
	// another one.
	Shared() bool
	LockVisits(ctx context.Context, q store.Querier, ids []string, keys []int64) ([]int64, error)
	Retryable(err error) bool
	// StorageFull reports whether err says the disk is full; AfterCommit
	// lets the engine keep its log bounded between two commits.
	StorageFull(err error) bool
	AfterCommit(ctx context.Context)

	// Visits and sessions.
	LoadVisit(ctx context.Context, q store.Querier, visitID string) (*store.VisitState, error)
	CreateVisit(ctx context.Context, q store.Querier, v *store.VisitState, o store.VisitOrigin) error
	GuardVisit(ctx context.Context, q store.Querier, v *store.VisitState) error
	SwitchSession(ctx context.Context, q store.Querier, v *store.VisitState, next store.VisitState, at int64) error
	TouchVisit(ctx context.Context, q store.Querier, visitID string, at, events int64) error
	CountVisitEvents(ctx context.Context, q store.Querier, visitID string, events int64) error
	AddVisitEvents(ctx context.Context, q store.Querier, counts []store.VisitCount, args []any) ([]any, error)
	LastActivity(ctx context.Context, q store.Querier, visitID string) (int64, error)
	OpenVisitOf(ctx context.Context, q store.Querier, visitorID string) (string, error)
	IdleVisits(ctx context.Context, q store.Querier, before int64, limit int) ([]string, error)
	EndVisit(ctx context.Context, q store.Querier, v *store.VisitState, endedAt int64) (bool, error)

	// Identities, browser keys and recognition tokens.
	UpsertIdentity(ctx context.Context, q store.Querier, newID, userID, attrs string, at int64) (string, error)
	LinkIdentity(ctx context.Context, q store.Querier, v *store.VisitState, identityID, how string, verified bool, at int64) error
	StitchVisits(ctx context.Context, q store.Querier, visitorID, identityID string, at int64) error
	ClaimVisitorKey(ctx context.Context, q store.Querier, visitorID, hash string) (bool, error)
	VisitorKeyHash(ctx context.Context, q store.Querier, visitorID string) (hash string, found bool, err error)
	RecognitionValid(ctx context.Context, q store.Querier, identityID, tokenID string) (bool, error)
	MergedTokenValid(ctx context.Context, q store.Querier, userID, identityID, tokenID string) (bool, error)
	RevokeRecognition(ctx context.Context, q store.Querier, tokenID string, expiresAt, now int64) error

	// Events and pages.
	EventExists(ctx context.Context, q store.Querier, eventID string) (bool, error)
	InsertEvent(ctx context.Context, q store.Querier, r *store.EventRow) (bool, error)
	InsertEvents(ctx context.Context, q store.Querier, rows []store.EventRow, args []any) ([]any, int64, error)
	EventsHighWater(ctx context.Context, q store.Querier) (int64, error)
	RowidsFollow() bool
	UpsertPage(ctx context.Context, q store.Querier, p *store.PageRow) (bool, error)

	// Rollups.
	CountEvents(ctx context.Context, q store.Querier, after, upTo int64, only []string) error
	CountNewEvents(ctx context.Context, q store.Querier, rows []store.EventRow) error
	AddStats(ctx context.Context, q store.Querier, pages bool, counts map[store.StatKey]int64) error

	// Engagement offers.
	SettleOffer(ctx context.Context, q store.Querier, offerID, visitID, outcome string, at int64) (ruleID string, ok bool, err error)
}

// The store is what ingest needs, on every engine.
var _ Store = (*store.Store)(nil)
