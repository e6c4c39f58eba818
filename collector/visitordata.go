package collector

import (
	"context"
	"encoding/json"
)

// Subject owns one visitor-data document: an identity, or a visitor while it
// is anonymous.
type Subject struct {
	Kind string // SubjectIdentity or SubjectVisitor
	ID   string
}

// Subject kinds.
const (
	SubjectIdentity = "identity"
	SubjectVisitor  = "visitor"
)

// Key is the subject's stored key, e.g. "identity:01J…".
func (s Subject) Key() string { return s.Kind + ":" + s.ID }

// VisitorData is a subject's shareable document. It travels to browsers, so
// it holds only what may be shown to the visitor. Version counts successful
// writes; 0 with an empty object means nothing was ever written.
type VisitorData struct {
	Subject Subject         `json:"-"`
	Version int64           `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// VisitorDataService keeps visitor data. Every successful write bumps the
// version by exactly one and is announced to the VisitorDataListener.
// Errors: EINVALID (bad name, not an object, too many namespaces),
// ETOOLARGE (over 64 KiB), EPRECONDITIONFAILED (ifMatch is stale),
// EFORBIDDEN (allowed refuses a namespace the write changes).
type VisitorDataService interface {
	// GetVisitorData returns the document, version 0 and {} when none.
	GetVisitorData(ctx context.Context, s Subject) (*VisitorData, error)
	// PutVisitorData replaces the whole document if its version is ifMatch.
	// allowed reports whether the caller may change a namespace; a change
	// to any other namespace fails with EFORBIDDEN.
	PutVisitorData(ctx context.Context, s Subject, ifMatch int64, data json.RawMessage, allowed func(ns string) bool) (*VisitorData, error)
	// PatchNamespace applies an RFC 7396 merge patch to one namespace,
	// atomically; ifMatch is optional.
	PatchNamespace(ctx context.Context, s Subject, ns string, patch json.RawMessage, ifMatch *int64) (*VisitorData, error)
	// PutNamespace replaces one namespace (the browser's update command).
	PutNamespace(ctx context.Context, s Subject, ns string, value json.RawMessage) (*VisitorData, error)
	DeleteNamespace(ctx context.Context, s Subject, ns string, ifMatch *int64) (*VisitorData, error)
	// StitchVisitorData merges the visitor's document into the identity's at
	// SignIn (namespaces the identity lacks are copied; where both have one
	// the identity's wins), clears the visitor's, and returns the identity's.
	StitchVisitorData(ctx context.Context, visitorID, identityID string) (*VisitorData, error)
}

// VisitorDataListener hears of every committed visitor-data change; the
// live package pushes it to the subject's open, entitled browsers.
type VisitorDataListener interface {
	VisitorDataChanged(vd *VisitorData)
}
