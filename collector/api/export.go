package api

import (
	"bufio"
	"encoding/json"
	"net/http"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// GET /v1/export/events and GET /v1/export/visits (docs/integrations.md#export): the
// whole history as application/x-ndjson, one resource per line, in the
// same field names (the same encoders) as the History endpoints. since
// and until bound them as in the History lists; there is no limit and no
// cursor: the store pages by itself, so memory stays flat.
//
// The status is written before the first line, so an error after it (the
// database failing, the client too slow) cannot become a problem answer.
// The handler then aborts the connection instead of ending the body
// cleanly: a client sees a broken transfer, never a short export that
// looks complete.

// ExportOptions tune the export endpoints.
type ExportOptions struct {
	// FlushEvery is the number of lines between flushes to the client
	// (default 1000); a flush also happens whenever the 64 KB buffer fills.
	FlushEvery int
	// WriteTimeout bounds each flush to the client (default 30 s).
	WriteTimeout time.Duration
}

// HandleExport registers the export endpoints, served by svc.
func (h *Handler) HandleExport(svc collector.ExportService, opt ExportOptions) {
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 1000
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 30 * time.Second
	}
	read := collector.ScopeHistoryRead
	h.Handle("GET /v1/export/events", read, func(w http.ResponseWriter, r *http.Request) error {
		f, err := exportFilter(r)
		if err != nil {
			return err
		}
		return h.streamNDJSON(w, r, opt, func(line func(any) error) error {
			return svc.ExportEvents(r.Context(), f, func(e *collector.Event) error { return line(e) })
		})
	})
	h.Handle("GET /v1/export/visits", read, func(w http.ResponseWriter, r *http.Request) error {
		f, err := exportFilter(r)
		if err != nil {
			return err
		}
		return h.streamNDJSON(w, r, opt, func(line func(any) error) error {
			return svc.ExportVisits(r.Context(), f, func(v *collector.Visit) error { return line(v) })
		})
	})
}

// exportFilter reads since and until; EINVALID unless since < until.
func exportFilter(r *http.Request) (collector.ExportFilter, error) {
	var f collector.ExportFilter
	q, err := query(r, "since", "until")
	if err != nil {
		return f, err
	}
	if f.Since, err = timeParam(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(q, "until"); err != nil {
		return f, err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return f, collector.Errorf(collector.EINVALID, "since (%s) must be before until (%s)",
			f.Since.Format(time.RFC3339Nano), f.Until.Format(time.RFC3339Nano))
	}
	return f, nil
}

// streamNDJSON writes the lines that run produces. Errors before the first
// line become a problem answer; after it, the connection is aborted (and
// the error logged unless the client went away).
func (h *Handler) streamNDJSON(w http.ResponseWriter, r *http.Request, opt ExportOptions, run func(line func(any) error) error) error {
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	enc := json.NewEncoder(bw)
	started := false
	n := 0
	flush := func() error {
		rc.SetWriteDeadline(time.Now().Add(opt.WriteTimeout))
		if err := bw.Flush(); err != nil {
			return err
		}
		return rc.Flush()
	}
	start := func() {
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "application/x-ndjson")
			h.Set("Cache-Control", "no-store")
			h.Set("X-Accel-Buffering", "no") // proxies: pass the stream on as it comes
			w.WriteHeader(http.StatusOK)
		}
	}
	err := run(func(v any) error {
		start()
		if err := enc.Encode(v); err != nil {
			return err
		}
		if n++; n%opt.FlushEvery == 0 {
			return flush()
		}
		return nil
	})
	if err != nil && started {
		// The 200 is gone: break the transfer so that the client knows.
		if r.Context().Err() == nil {
			h.log.ErrorContext(r.Context(), "api: export aborted", "path", r.URL.Path, "lines", n, "err", err)
		}
		panic(http.ErrAbortHandler)
	}
	if err != nil {
		return err
	}
	start()
	if err := flush(); err != nil {
		panic(http.ErrAbortHandler)
	}
	return nil
}
