package store

import (
	"encoding/base64"
	"encoding/json"
	"strings"

	"github.com/visitrack/visitrack/collector"
)

// cursor is the sort key of the last item of a page: the next page starts
// strictly after it. Clients see it as base64url JSON and must treat it as
// opaque; List names the list it was made for, so that a cursor of one list
// handed to another is refused rather than silently misread.
type cursor struct {
	List string `json:"l"`
	T    int64  `json:"t,omitempty"` // time part of the key, Unix ms
	ID   string `json:"i"`           // tie-breaker: the item's id
}

// Lists that page with a cursor.
const (
	listVisits     = "visits"
	listPages      = "pages"
	listEvents     = "events"
	listSessions   = "sessions"
	listIdentities = "identities"
)

func encodeCursor(c cursor) string {
	b, _ := json.Marshal(c) // a struct of strings and ints cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor returns nil for the empty cursor (the first page), and
// EINVALID for one that is malformed or belongs to another list.
func decodeCursor(list, s string) (*cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return nil, collector.Errorf(collector.EINVALID, "cursor is malformed: pass the nextCursor of the previous page unchanged")
	}
	var c cursor
	if err := json.Unmarshal(b, &c); err != nil || c.List == "" || c.ID == "" {
		return nil, collector.Errorf(collector.EINVALID, "cursor is malformed: pass the nextCursor of the previous page unchanged")
	}
	if c.List != list {
		return nil, collector.Errorf(collector.EINVALID, "cursor belongs to a list of %s, not of %s", c.List, list)
	}
	return &c, nil
}

// pageLimit returns the page size: the default for 0, EINVALID outside
// 1..MaxLimit.
func pageLimit(opt collector.ListOptions) (int, error) {
	switch {
	case opt.Limit == 0:
		return collector.DefaultLimit, nil
	case opt.Limit < 1 || opt.Limit > collector.MaxLimit:
		return 0, collector.Errorf(collector.EINVALID, "limit must be between 1 and %d, not %d", collector.MaxLimit, opt.Limit)
	}
	return opt.Limit, nil
}

// page trims a result fetched with limit+1 rows to limit, and returns the
// cursor after its last item, or "" when there is no further page.
func page[T any](items []T, limit int, list string, key func(T) (int64, string)) ([]T, string) {
	if len(items) <= limit {
		return items, ""
	}
	items = items[:limit]
	t, id := key(items[limit-1])
	return items, encodeCursor(cursor{List: list, T: t, ID: id})
}

// where collects the conditions and arguments of a query's WHERE clause.
type where struct {
	conds []string
	args  []any
}

func (w *where) and(cond string, args ...any) {
	w.conds = append(w.conds, cond)
	w.args = append(w.args, args...)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
