//go:build js

package server

import (
	"context"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/engage"
	"github.com/visitrack/visitrack/collector/store"
)

// The edge's Worker runs no engagement engine and serves no engagement API
// (docs/edge.md): the engine keeps per-visit state and timers that a
// Worker's short-lived instances cannot hold, and its code would take the
// Worker over Cloudflare's size limit. Pages are still stored with their
// categories' column empty.

type engagement struct{}

func (s *Server) attachEngagement(Config, collector.VisitorDataService) func() *engage.Categorizer {
	return nil
}

func (s *Server) engageCommitted([]store.EventRow) {}

func (s *Server) startEngagement(context.Context) error { return nil }

func (s *Server) stopEngagement() {}
