package collector

import (
	"context"
	"errors"
	"time"
)

// VisitMetadata is a visit's internal metadata: a JSON object that only
// operators and backend systems see (docs/architecture.md#metadata-stays-inside). It must never reach
// a browser.
//
// That rule is kept by types, not by care: VisitMetadata is a different
// type from VisitorData, and its content is an InternalJSON, which has no
// conversion to protocol.RawJSON, json.RawMessage or []byte. The only way
// to its bytes is MarshalJSON, which the REST API's encoder calls. Code
// that writes to a browser (package live, the /v1/collect answer) builds
// protocol messages from VisitorData and has no field, method or
// conversion through which a VisitMetadata could slip in.
type VisitMetadata struct {
	VisitID   string       `json:"visitId"`
	Version   int64        `json:"version"` // successful writes; 0 when never written
	Data      InternalJSON `json:"data"`
	UpdatedAt *time.Time   `json:"updatedAt"` // nil when never written
}

// InternalJSON is the content of internal metadata: a JSON object held as
// its encoded bytes. Its zero value is the empty object. Deliberately it
// is a struct, so that no type conversion turns it into the byte-slice
// types that browser messages carry.
type InternalJSON struct {
	raw []byte
}

// MarshalJSON returns the object's encoding ({} for the zero value).
func (m InternalJSON) MarshalJSON() ([]byte, error) {
	if len(m.raw) == 0 {
		return []byte("{}"), nil
	}
	return m.raw, nil
}

// UnmarshalJSON keeps a copy of b. It does not validate b: the service
// does, on every write.
func (m *InternalJSON) UnmarshalJSON(b []byte) error {
	if m == nil {
		return errors.New("collector: UnmarshalJSON on nil *InternalJSON")
	}
	m.raw = append([]byte(nil), b...)
	return nil
}

// MetadataService keeps internal metadata, one object per visit, with a
// version bumped by one on every successful write. The same limits as
// visitor data apply to the object (64 KiB, nesting 16), without
// namespaces. Errors: ENOTFOUND (unknown visit), EINVALID (not a JSON
// object, not valid JSON, too deep), ETOOLARGE (over 64 KiB),
// EPRECONDITIONFAILED (ifMatch is not the stored version).
type MetadataService interface {
	// GetVisitMetadata returns the visit's metadata: version 0 and {} when
	// none was ever written.
	GetVisitMetadata(ctx context.Context, visitID string) (*VisitMetadata, error)
	// PutVisitMetadata replaces the whole object; ifMatch is optional.
	PutVisitMetadata(ctx context.Context, visitID string, data []byte, ifMatch *int64) (*VisitMetadata, error)
	// PatchVisitMetadata applies an RFC 7396 merge patch (a JSON object)
	// atomically; ifMatch is optional.
	PatchVisitMetadata(ctx context.Context, visitID string, patch []byte, ifMatch *int64) (*VisitMetadata, error)
}
