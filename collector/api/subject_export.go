package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"github.com/visitrack/visitrack/collector"
)

// GET /v1/identities/{identityId}/export and GET /v1/visitors/{visitorId}/export:
// everything stored about one person, for the person's right of access
// and portability (docs/security.md), streamed as application/x-ndjson,
// or with ?format=json as one JSON document, streamed too.
//
// The first line is a header that says what follows; the last says that
// the export is complete, with the count of each record type. A transfer
// that breaks off mid-way has no such line, and the connection is also
// aborted rather than ended cleanly (as the site-wide export does), so a
// client can never take a cut-off export for a whole one.

// SubjectExportKind names the format in an export's header.
const SubjectExportKind = "visitrack.subject-export"

// SubjectExportVersion is the format's version in the header: it changes
// when a record's meaning does, not when a field or record type is added.
const SubjectExportVersion = 1

// HandleSubjectExport registers the subject export endpoints, served by
// svc. opt tunes the flushes as for the site-wide export.
func (h *Handler) HandleSubjectExport(svc collector.SubjectExportService, opt ExportOptions) {
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = 1000
	}
	if opt.WriteTimeout <= 0 {
		opt.WriteTimeout = 30 * time.Second
	}
	for _, route := range []struct{ pattern, param, kind string }{
		{"GET /v1/identities/{identityId}/export", "identityId", collector.SubjectIdentity},
		{"GET /v1/visitors/{visitorId}/export", "visitorId", collector.SubjectVisitor},
	} {
		h.Handle(route.pattern, collector.ScopeSubjectExport, func(w http.ResponseWriter, r *http.Request) error {
			id, err := pathID(r, route.param)
			if err != nil {
				return err
			}
			q, err := query(r, "format")
			if err != nil {
				return err
			}
			format := q.Get("format")
			switch format {
			case "", "ndjson", "json":
			default:
				return collector.Errorf(collector.EINVALID, "format must be ndjson or json, not %q", format)
			}
			sw := newSubjectWriter(w, r, opt, format == "json", collector.Subject{Kind: route.kind, ID: id}, h.now())
			err = svc.ExportSubject(r.Context(), sw.subject, sw.record)
			if err == nil {
				err = sw.finish()
			}
			if err != nil && sw.started {
				// The 200 is gone: break the transfer so that the client knows.
				if r.Context().Err() == nil {
					h.log.ErrorContext(r.Context(), "api: subject export aborted", "path", r.URL.Path, "records", sw.n, "err", err)
				}
				panic(http.ErrAbortHandler)
			}
			return err
		})
	}
}

// exportSubject is the subject in the header.
type exportSubject struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// exportHeader is the first line (or the first fields of the document).
type exportHeader struct {
	Type        string        `json:"type,omitempty"`
	Kind        string        `json:"kind"`
	Version     int           `json:"version"`
	Subject     exportSubject `json:"subject"`
	GeneratedAt time.Time     `json:"generatedAt"`
	RecordTypes []string      `json:"recordTypes"`
}

// exportEnd is the last line (or the last fields of the document).
type exportEnd struct {
	Type     string           `json:"type,omitempty"`
	Complete bool             `json:"complete"`
	Counts   map[string]int64 `json:"counts"`
}

// subjectWriter writes the records of one export as they come, through a
// buffer flushed every opt.FlushEvery records.
type subjectWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	opt     ExportOptions
	doc     bool // one JSON document instead of lines
	subject collector.Subject
	at      time.Time
	bw      *bufio.Writer
	line    bytes.Buffer // one record, encoded
	enc     *json.Encoder
	started bool
	n       int
	counts  map[string]int64
	types   []string // collector.SubjectRecordTypes, for the header
}

func newSubjectWriter(w http.ResponseWriter, r *http.Request, opt ExportOptions, doc bool, s collector.Subject, at time.Time) *subjectWriter {
	sw := &subjectWriter{w: w, rc: http.NewResponseController(w), opt: opt, doc: doc, subject: s, at: at.UTC(),
		bw: bufio.NewWriterSize(w, 64<<10), types: collector.SubjectRecordTypes()}
	sw.counts = make(map[string]int64, len(sw.types))
	sw.enc = json.NewEncoder(&sw.line)
	for _, t := range sw.types {
		sw.counts[t] = 0
	}
	return sw
}

// start writes the status, the headers and the export's header.
func (sw *subjectWriter) start() error {
	sw.started = true
	h := sw.w.Header()
	ext := ".ndjson"
	if sw.doc {
		h.Set("Content-Type", "application/json")
		ext = ".json"
	} else {
		h.Set("Content-Type", "application/x-ndjson")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // proxies: pass the stream on as it comes
	h.Set("Content-Disposition", `attachment; filename="visitrack-`+sw.subject.Kind+"-"+sw.subject.ID+ext+`"`)
	sw.w.WriteHeader(http.StatusOK)
	head := exportHeader{Kind: SubjectExportKind, Version: SubjectExportVersion,
		Subject:     exportSubject{Kind: sw.subject.Kind, ID: sw.subject.ID},
		GeneratedAt: sw.at, RecordTypes: sw.types}
	if !sw.doc {
		head.Type = "header"
		return sw.enc.Encode(head) // into line, written by the first record
	}
	if err := sw.enc.Encode(head); err != nil {
		return err
	}
	// The header's fields, then the records array.
	b := sw.line.Bytes()
	sw.bw.Write(b[:len(b)-2]) // without its closing "}\n"
	sw.bw.WriteString(`,"records":[`)
	sw.line.Reset()
	return nil
}

// record writes one record: its value's fields after a "type" field.
func (sw *subjectWriter) record(rec collector.SubjectRecord) error {
	if !sw.started {
		if err := sw.start(); err != nil {
			return err
		}
	}
	head := sw.line.Len() > 0 // the NDJSON header, not written yet
	if head {
		sw.bw.Write(sw.line.Bytes())
		sw.line.Reset()
	}
	if err := sw.enc.Encode(rec.Value); err != nil {
		return err
	}
	b := sw.line.Bytes()
	if len(b) < 2 || b[0] != '{' {
		return collector.Errorf(collector.EINTERNAL, "a %s record is not a JSON object", rec.Type)
	}
	if sw.doc && sw.n > 0 {
		sw.bw.WriteByte(',')
	}
	if sw.doc {
		sw.bw.WriteByte('\n')
	}
	sw.bw.WriteString(`{"type":"`)
	sw.bw.WriteString(rec.Type) // a Record constant: nothing to escape
	sw.bw.WriteByte('"')
	if b[1] != '}' {
		sw.bw.WriteByte(',')
	}
	if sw.doc {
		b = b[:len(b)-1] // the encoder's newline
	}
	sw.bw.Write(b[1:])
	sw.line.Reset()
	sw.counts[rec.Type]++
	if sw.n++; sw.n%sw.opt.FlushEvery == 0 {
		return sw.flush()
	}
	return nil
}

// finish writes the completion line (or closes the document) and
// flushes.
func (sw *subjectWriter) finish() error {
	if !sw.started {
		if err := sw.start(); err != nil {
			return err
		}
	}
	if sw.line.Len() > 0 {
		sw.bw.Write(sw.line.Bytes())
		sw.line.Reset()
	}
	end := exportEnd{Complete: true, Counts: sw.counts}
	if !sw.doc {
		end.Type = "end"
		if err := sw.enc.Encode(end); err != nil {
			return err
		}
		sw.bw.Write(sw.line.Bytes())
	} else {
		if err := sw.enc.Encode(end); err != nil {
			return err
		}
		sw.bw.WriteString("\n],")
		sw.bw.Write(sw.line.Bytes()[1:]) // the end's fields close the document
	}
	return sw.flush()
}

func (sw *subjectWriter) flush() error {
	sw.rc.SetWriteDeadline(time.Now().Add(sw.opt.WriteTimeout))
	if err := sw.bw.Flush(); err != nil {
		return err
	}
	return sw.rc.Flush()
}
