package collector

import (
	"context"
	"time"
)

// Erasure records one erasure of a data subject (an identity or a
// browser) without personal data: when, which API token asked, which ids
// went, and how many rows of each table were removed. The ids are random
// and, once the rows that tied them to a person are gone, name nobody; a
// userId, URL, address or document never enters the record. Records stay
// after the data is gone: they are what an operator shows to prove that
// an erasure happened (docs/data-subject.md).
type Erasure struct {
	ErasureID string `json:"erasureId"`
	Kind      string `json:"kind"`      // SubjectIdentity or SubjectVisitor
	SubjectID string `json:"subjectId"` // the identity or visitor erased
	// MergedIdentityIDs are the identities merged into the erased one
	// earlier; their history went with it.
	MergedIdentityIDs []string `json:"mergedIdentityIds"`
	// VisitorIDs are the browsers whose visitor data went with the
	// erased identity (for a visitor erasure, the visitor itself).
	VisitorIDs []string       `json:"visitorIds"`
	TokenID    string         `json:"tokenId"`
	State      string         `json:"state"`   // ErasurePending or ErasureDone
	Removed    map[string]int `json:"removed"` // rows removed, by table
	StartedAt  time.Time      `json:"startedAt"`
	FinishedAt *time.Time     `json:"finishedAt"`
}

// States of an Erasure.
const (
	// ErasurePending: under way, or stopped halfway on D1; erasing the
	// same subject again finishes it under the same record.
	ErasurePending = "pending"
	ErasureDone    = "done"
)

// EraseOptions are the choices of one erasure.
type EraseOptions struct {
	TokenID string // who asked, for the record
}

// ErasureService lists the records of erasures.
type ErasureService interface {
	// FindErasures returns the erasure records, newest first; EINVALID
	// for a malformed cursor or limit.
	FindErasures(ctx context.Context, opt ListOptions) ([]*Erasure, string, error)
}
