package collector

import (
	"context"
	"time"
)

// ExportFilter bounds an export: since inclusive, until exclusive; zero
// times are open ends. Events are bounded by their corrected time, visits
// by when they started.
type ExportFilter struct {
	Since time.Time
	Until time.Time
}

// ExportService streams whole tables for bulk export (docs/integrations.md#export). It
// hands items to fn one at a time and never holds more than one page of
// them, so that memory stays flat however much is exported. An error of fn
// stops the export and is returned. EINVALID when Until is before Since.
type ExportService interface {
	// ExportEvents calls fn for every event in f, in the order they were
	// stored.
	ExportEvents(ctx context.Context, f ExportFilter, fn func(*Event) error) error
	// ExportVisits calls fn for every visit in f, oldest first.
	ExportVisits(ctx context.Context, f ExportFilter, fn func(*Visit) error) error
}
