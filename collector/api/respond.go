package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// writeJSON writes v as an application/json response with status. It
// encodes v before it writes anything: when v cannot be encoded it returns
// the error with nothing written, so that Handle answers 500 problem+json
// instead of a status 200 with a broken body. A failure to write (the
// client went away) is not returned: the answer has begun, and no other
// can follow it.
func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := encodeJSON(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// encodeJSON encodes v as encoding/json's Encoder does (with a final
// newline), into memory.
func encodeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode the answer: %w", err)
	}
	return append(b, '\n'), nil
}

// list is the shape of every list response. NextCursor is null on the
// last page.
type list[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"nextCursor"`
}

// writeList writes a 200 list response: items ([] when none) and the
// cursor of the next page ("" on the last page, written as null).
func writeList[T any](w http.ResponseWriter, items []T, next string) error {
	l := list[T]{Items: items}
	if l.Items == nil {
		l.Items = []T{}
	}
	if next != "" {
		l.NextCursor = &next
	}
	return writeJSON(w, http.StatusOK, l)
}

// Query parameters common to lists.
const (
	paramLimit  = "limit"
	paramCursor = "cursor"
)

// query returns the request's query parameters, or EINVALID when one is
// not in allowed or is given twice: a mistyped filter must not silently
// match everything.
func query(r *http.Request, allowed ...string) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, collector.Errorf(collector.EINVALID, "malformed query string: %v", err)
	}
	for name, vs := range q {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, collector.Errorf(collector.EINVALID, "unknown query parameter %q: this endpoint takes none", name)
			}
			return nil, collector.Errorf(collector.EINVALID, "unknown query parameter %q: this endpoint takes %s", name, strings.Join(allowed, ", "))
		}
		if len(vs) > 1 {
			return nil, collector.Errorf(collector.EINVALID, "query parameter %q is given %d times", name, len(vs))
		}
	}
	return q, nil
}

// listOptions reads limit (1 to collector.MaxLimit, default
// collector.DefaultLimit) and cursor.
func listOptions(q url.Values) (collector.ListOptions, error) {
	opt := collector.ListOptions{Cursor: q.Get(paramCursor)}
	if s := q.Get(paramLimit); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > collector.MaxLimit {
			return opt, collector.Errorf(collector.EINVALID, "limit must be an integer from 1 to %d, not %q", collector.MaxLimit, s)
		}
		opt.Limit = n
	}
	if q.Has(paramCursor) && opt.Cursor == "" {
		return opt, collector.Errorf(collector.EINVALID, "cursor is empty: leave it out for the first page")
	}
	return opt, nil
}

// timeParam reads an RFC 3339 time; the zero time when name is absent.
func timeParam(q url.Values, name string) (time.Time, error) {
	s := q.Get(name)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, collector.Errorf(collector.EINVALID, "%s must be an RFC 3339 time such as 2026-11-21T10:00:00Z, not %q", name, s)
	}
	return t.UTC(), nil
}

// idParam checks that s, the value of the path or query parameter name,
// is a ULID, and returns it in canonical upper case; "" stays "".
func idParam(name, s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if !protocol.IsULID(s) {
		return "", collector.Errorf(collector.EINVALID, "%s must be a ULID, not %q", name, s)
	}
	return strings.ToUpper(s), nil
}

// pathID is idParam for the path wildcard name.
func pathID(r *http.Request, name string) (string, error) {
	id, err := idParam(name, r.PathValue(name))
	if err == nil && id == "" {
		err = collector.Errorf(collector.EINVALID, "%s is required", name)
	}
	return id, err
}

// readBody reads the request body, at most limit bytes, after checking
// that its media type is one of types: EUNSUPPORTEDMEDIA for another type,
// ETOOLARGE for a longer body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64, types ...string) ([]byte, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !slices.Contains(types, mt) {
		return nil, collector.Errorf(collector.EUNSUPPORTEDMEDIA, "Content-Type must be %s", strings.Join(types, " or "))
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, collector.Errorf(collector.ETOOLARGE, "request body is larger than %d bytes", limit)
	}
	if err != nil {
		return nil, collector.Errorf(collector.EINVALID, "reading the request body: %v", err)
	}
	return b, nil
}
