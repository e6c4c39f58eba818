package daemon

import (
	"context"

	"github.com/visitrack/visitrack/collector/retention"
)

// startRetention runs --retention in the background through the ingest
// writer; the returned func stops it and waits.
func (m *Main) startRetention() (stop func(), err error) {
	r, err := retention.New(retention.Config{
		Store:     m.store,
		Writer:    m.server.Ingester(),
		Retention: m.Config.Retention,
		Logger:    m.Logger,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	m.Logger.Info("retention", "delete visits ended more than", m.Config.Retention.String())
	return func() { cancel(); <-done }, nil
}
