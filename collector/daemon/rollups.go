package daemon

import (
	"context"

	"github.com/visitrack/visitrack/collector/rollup"
)

// startRollups trims the stats rollups past their horizons in the
// background through the ingest writer, always (with or without
// --retention): the minute rows would otherwise grow without bound. The
// returned func stops it and waits.
func (m *Main) startRollups() (stop func(), err error) {
	t, err := rollup.New(rollup.Config{Store: m.store, Writer: m.server.Ingester(), Logger: m.Logger})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.Run(ctx)
	}()
	return func() { cancel(); <-done }, nil
}
