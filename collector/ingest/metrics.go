package ingest

import (
	"time"

	"github.com/visitrack/visitrack/shared/protocol"
)

// Observer hears what ingest does, for metrics. The native collector
// exports it to Prometheus (package metrics); the edge build observes
// nothing, which keeps the Prometheus client out of the worker. Methods
// must be cheap and safe for concurrent use: Commit runs on the writer.
type Observer interface {
	// Collected is called once per Collect call, after its commit.
	Collected(received, stored int, rejected []protocol.Rejection)
	// Committed is called after each transaction.
	Committed(rows int, took time.Duration)
	// RecognitionRefused counts forged, expired or erased tokens.
	RecognitionRefused()
}

type nopObserver struct{}

func (nopObserver) Collected(int, int, []protocol.Rejection) {}
func (nopObserver) Committed(int, time.Duration)             {}
func (nopObserver) RecognitionRefused()                      {}
