package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
	"github.com/visitrack/visitrack/shared/visitordata"
)

// Metadata keeps internal metadata, one JSON object per visit, in the
// visit_metadata table, apart from visitor data, and implements
// collector.MetadataService. Writes are compare-and-set on the version, as
// for visitor data (see VisitorData); it has no listeners, because nothing
// of it is ever pushed anywhere.
type Metadata struct {
	s           *Store
	maxAttempts int
}

var _ collector.MetadataService = (*Metadata)(nil)

// NewMetadata returns the metadata service on s.
func NewMetadata(s *Store) *Metadata { return &Metadata{s: s, maxAttempts: 20} }

// GetVisitMetadata returns the visit's metadata, version 0 and {} when none
// was written. ENOTFOUND for an unknown visit.
func (m *Metadata) GetVisitMetadata(ctx context.Context, visitID string) (*collector.VisitMetadata, error) {
	md, err := m.read(ctx, visitID)
	if err != nil {
		return nil, fmt.Errorf("get metadata of visit %s: %w", visitID, err)
	}
	if md.Version == 0 {
		if err := m.checkVisit(ctx, visitID); err != nil {
			return nil, fmt.Errorf("get metadata of visit %s: %w", visitID, err)
		}
	}
	return md, nil
}

// PutVisitMetadata replaces the visit's metadata with data, a JSON object
// (at most 64 KiB, 16 levels deep); ifMatch is optional.
func (m *Metadata) PutVisitMetadata(ctx context.Context, visitID string, data []byte, ifMatch *int64) (*collector.VisitMetadata, error) {
	obj, err := visitordata.ParseObject(data)
	if err != nil {
		return nil, fmt.Errorf("put metadata of visit %s: %w", visitID, ruleError(err))
	}
	md, err := m.update(ctx, visitID, ifMatch, func(json.RawMessage) (json.RawMessage, error) { return obj, nil })
	if err != nil {
		return nil, fmt.Errorf("put metadata of visit %s: %w", visitID, err)
	}
	return md, nil
}

// PatchVisitMetadata applies an RFC 7396 merge patch (a JSON object);
// ifMatch is optional. ETOOLARGE when the result would pass 64 KiB.
func (m *Metadata) PatchVisitMetadata(ctx context.Context, visitID string, patch []byte, ifMatch *int64) (*collector.VisitMetadata, error) {
	md, err := m.update(ctx, visitID, ifMatch, func(cur json.RawMessage) (json.RawMessage, error) {
		return visitordata.MergeObjectPatch(cur, patch)
	})
	if err != nil {
		return nil, fmt.Errorf("patch metadata of visit %s: %w", visitID, err)
	}
	return md, nil
}

func (m *Metadata) update(ctx context.Context, visitID string, ifMatch *int64, fn func(json.RawMessage) (json.RawMessage, error)) (*collector.VisitMetadata, error) {
	if !protocol.IsULID(visitID) {
		return nil, collector.Errorf(collector.ENOTFOUND, "visit %s not found", clipID(visitID))
	}
	ver, data, at, err := metadataTable.write(ctx, m.s, visitID, "metadata of visit "+visitID, ifMatch, m.maxAttempts,
		func(raw []byte) ([]byte, error) {
			next, err := fn(raw)
			return next, ruleError(err)
		},
		func() error { return m.checkVisit(ctx, visitID) }, nil)
	if err != nil {
		return nil, err
	}
	return newVisitMetadata(visitID, ver, data, at)
}

func (m *Metadata) read(ctx context.Context, visitID string) (*collector.VisitMetadata, error) {
	if !protocol.IsULID(visitID) {
		return nil, collector.Errorf(collector.ENOTFOUND, "visit %s not found", clipID(visitID))
	}
	var ver, at int64
	var data string
	err := m.s.db.QueryRowContext(ctx, `SELECT version, data, updated_at FROM visit_metadata WHERE visit_id = ?`, visitID).Scan(&ver, &data, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return newVisitMetadata(visitID, 0, nil, time.Time{})
	}
	if err != nil {
		return nil, err
	}
	return newVisitMetadata(visitID, ver, []byte(data), fromMS(at))
}

func (m *Metadata) checkVisit(ctx context.Context, visitID string) error {
	var ok bool
	if err := m.s.db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM visits WHERE visit_id = ?)`, visitID).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return collector.Errorf(collector.ENOTFOUND, "visit %s not found", visitID)
	}
	return nil
}

func newVisitMetadata(visitID string, ver int64, data []byte, at time.Time) (*collector.VisitMetadata, error) {
	md := &collector.VisitMetadata{VisitID: visitID, Version: ver}
	if len(data) > 0 {
		if err := md.Data.UnmarshalJSON(data); err != nil {
			return nil, err
		}
	}
	if !at.IsZero() {
		t := at.UTC()
		md.UpdatedAt = &t
	}
	return md, nil
}
