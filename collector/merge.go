package collector

import (
	"context"
	"time"
)

// IdentityMerge records one identity merged into another
// (docs/identity.md#merging-two-identities): FromIdentityID's history, links and visitor data moved to
// IdentityID, and FromUserID resolves to IdentityID from then on.
type IdentityMerge struct {
	MergeID        string      `json:"mergeId,omitempty"` // empty for a dry run
	IdentityID     string      `json:"identityId"`        // merged into; it stays
	FromIdentityID string      `json:"fromIdentityId"`    // merged away
	FromUserID     string      `json:"fromUserId"`
	TokenID        string      `json:"tokenId"`
	State          string      `json:"state"` // MergePending, MergeDone or MergeDryRun
	Moved          MergeCounts `json:"moved"`
	StartedAt      time.Time   `json:"startedAt"`
	FinishedAt     *time.Time  `json:"finishedAt"`
	UndoneAt       *time.Time  `json:"undoneAt"`
	UndoneBy       string      `json:"undoneBy"` // the token that undid it
	// UndoExpiredAt is when the maintenance job deleted what the merge
	// recorded it moved, its time for an undo (--merge-undo-days) being
	// up: the merge can no longer be undone.
	UndoExpiredAt *time.Time `json:"undoExpiredAt"`
}

// States of an IdentityMerge.
const (
	MergePending = "pending" // under way, or stopped halfway on D1: run it again
	MergeDone    = "done"
	MergeDryRun  = "dryRun" // counted only; nothing was written
	// MergeUndoing: an undo under way, or stopped halfway on D1: undo
	// it again.
	MergeUndoing = "undoing"
	MergeUndone  = "undone"
)

// MergeCounts says what a merge moves: the visits linked to the merged
// identity, and the sessions and events that carried its id, its links to
// visits and to browsers (visitors), and its visitor-data namespaces.
type MergeCounts struct {
	Visits                int `json:"visits"`
	Sessions              int `json:"sessions"`
	Events                int `json:"events"`
	VisitLinks            int `json:"visitLinks"`
	VisitorLinks          int `json:"visitorLinks"`
	VisitorDataNamespaces int `json:"visitorDataNamespaces"`
}

// MergeOptions are the choices of one merge.
type MergeOptions struct {
	DryRun  bool   // count, write nothing
	TokenID string // who asked, for the record
}

// MergeService merges identities.
type MergeService interface {
	// MergeIdentities moves from's visits, sessions, events, links and
	// visitor data into into (where both hold a visitor-data namespace,
	// into's wins) and makes from's userId resolve to into. Errors:
	// EINVALID (from is into), ENOTFOUND (either is unknown or erased),
	// ECONFLICT (either was merged away already, another merge of from is
	// pending, or the merged visitor data would not fit its limits).
	// A pending merge of the same pair is finished.
	MergeIdentities(ctx context.Context, into, from string, opt MergeOptions) (*IdentityMerge, error)
	// FindMerges returns the merges into identityID, newest first;
	// ENOTFOUND for an unknown identity.
	FindMerges(ctx context.Context, identityID string, opt ListOptions) ([]*IdentityMerge, string, error)
	// UndoMerge puts back what the merge moved: both identities as they
	// were, and the merged one's userId resolves to it again. Errors:
	// ENOTFOUND (no such merge, or erased with its identity), EGONE (the
	// merge finished longer ago than the undo limit, --merge-undo-days:
	// what it moved is deleted, or is about to be), ECONFLICT
	// naming what prevents it (the merge is pending or undone already,
	// was made before merges recorded what they moved, a later merge
	// involves the identities, the merged userId signed in again since,
	// a moved visit or browser was erased or expired, a visitor-data
	// namespace it moved changed since). A dry run checks and writes
	// nothing; an undo stopped halfway (D1) is finished by the next.
	UndoMerge(ctx context.Context, mergeID string, opt MergeOptions) (*IdentityMerge, error)
}
