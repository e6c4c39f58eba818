package daemon

import (
	"context"

	"github.com/visitrack/visitrack/collector/live"
	"github.com/visitrack/visitrack/collector/postgres/fanout"
)

// openPeers prepares the cross-node push of a PostgreSQL database
// (docs/deployment-push.md); SQLite, one node, has none. Its LISTEN
// connection goes to --listen-database when set: behind a PgBouncer in
// transaction mode, LISTEN needs PostgreSQL itself or a session-pooled
// port.
func (m *Main) openPeers() (*fanout.Fanout, error) {
	if m.Config.Database == "" {
		return nil, nil
	}
	url := m.Config.ListenDatabase
	if url == "" {
		url = m.Config.Database
	}
	return fanout.New(fanout.Config{URL: url, Store: m.store, Logger: m.Logger})
}

// peersOf is f as live.Peers, without a typed nil.
func peersOf(f *fanout.Fanout) live.Peers {
	if f == nil {
		return nil
	}
	return f
}

// startPeers connects the cross-node push to the server's hub and ingest
// writer, once both exist.
func (m *Main) startPeers(ctx context.Context) error {
	if m.peers == nil {
		return nil
	}
	return m.peers.Start(ctx, m.server.Hub(), m.server.Ingester())
}
