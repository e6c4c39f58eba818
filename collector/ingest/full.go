package ingest

import (
	"fmt"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// ErrStorageFull is the error of a Collect whose commit failed because the
// disk is full: nothing of it was stored, and the client should send it
// again after StorageFullRetryAfter. Ingest resumes by itself once a
// commit succeeds again.
var ErrStorageFull = &collector.Error{Code: collector.ESTORAGEFULL,
	Message: "the collector's disk is full: events were not stored; send them again later"}

// StorageFullRetryAfter is the wait the collector asks of clients while
// the disk is full.
const StorageFullRetryAfter = 10 * time.Second

// fullLogEvery is how often, at most, the writer says that the disk is
// still full: each failed commit would otherwise log a line, and a
// collector under load fails hundreds a second.
const fullLogEvery = 10 * time.Second

// outage tracks commits failed for lack of space, for the writer's log.
// Owned by the writer goroutine.
type outage struct {
	failures int       // since the last line
	total    int       // since the outage began
	since    time.Time // zero when the disk is not known to be full
	logged   time.Time
}

// storageFull fails a commit of jobs refused for lack of space, and logs at
// most one line per fullLogEvery.
func (in *Ingester) storageFull(jobs []*job, err error) {
	o := &in.full
	now := in.now()
	if o.since.IsZero() {
		o.since = now
	}
	o.failures++
	o.total++
	for _, j := range jobs {
		j.err = fmt.Errorf("%w (%w)", ErrStorageFull, err)
	}
	if o.logged.IsZero() || now.Sub(o.logged) >= fullLogEvery {
		in.cfg.Logger.Error("ingest: disk full, events refused with 503 / close 1013 until space returns",
			"failed_commits", o.failures, "since", o.since.UTC().Format(time.RFC3339), "err", err)
		o.failures, o.logged = 0, now
	}
}

// committed ends an outage: the first commit that succeeds again says so.
func (in *Ingester) committed() {
	o := &in.full
	if o.since.IsZero() {
		return
	}
	in.cfg.Logger.Info("ingest: disk space is back, ingest resumed",
		"failed_commits", o.failures, "failed_total", o.total, "down_for", in.now().Sub(o.since).Round(time.Second).String())
	*o = outage{}
}
