package store

import (
	"context"
	"fmt"

	"github.com/visitrack/visitrack/collector"
)

// Page lists and the url filters (docs/api.md#filters-on-pages-and-events).
//
// None of them adds an index. Pages are listed under a visit or an
// identity, so the pages_visit index finds them and the url and title
// conditions only filter those rows. On events the url filters ride on
// the other filters' indexes (events_visit, through a visit, an identity
// or a page); an unscoped GET /v1/events?url=… scans, as name= does. An
// index on events(url) would cost every insert on the hottest table, for
// a query that a visit or identity scope answers.

// listIdentityPages names the cursor of an identity's pages, which is
// keyed like a visit's but must not be handed from one list to the other.
const listIdentityPages = "identity pages"

// ListPages returns the pages of f.VisitID or of f.IdentityID (the
// identity's visits, stitched anonymous ones included) in the order they
// were entered (ties by pageId). ENOTFOUND for an unknown visit or
// identity, EINVALID for a filter that names neither or both.
func (s *Store) ListPages(ctx context.Context, f collector.PageFilter) ([]*collector.Page, string, error) {
	what := "visit " + f.VisitID
	if f.IdentityID != "" {
		what = "identity " + f.IdentityID
	}
	pages, next, err := s.listPages(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("find pages of %s: %w", what, err)
	}
	return pages, next, nil
}

func (s *Store) listPages(ctx context.Context, f collector.PageFilter) ([]*collector.Page, string, error) {
	if (f.VisitID == "") == (f.IdentityID == "") {
		return nil, "", collector.Errorf(collector.EINVALID, "pages are listed by visit or by identity")
	}
	limit, err := pageLimit(f.ListOptions)
	if err != nil {
		return nil, "", err
	}
	list, kind, owner := listPages, "visit", f.VisitID
	var w where
	if f.VisitID != "" {
		w.and(`visit_id = ?`, f.VisitID)
	} else {
		list, kind, owner = listIdentityPages, "identity", f.IdentityID
		w.and(`visit_id IN (`+identityVisitIDs+`)`, f.IdentityID, f.IdentityID)
	}
	c, err := decodeCursor(list, f.Cursor)
	if err != nil {
		return nil, "", err
	}
	urlFilter(&w, "url", f.URL, f.URLPrefix)
	if f.Title != "" {
		w.and(`title = ?`, f.Title)
	}
	if c != nil {
		w.and(`(entered_at, page_id) > (?, ?)`, c.T, c.ID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+pageColumns+` FROM pages`+w.String()+
		` ORDER BY entered_at, page_id LIMIT ?`, append(w.args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	pages, err := scanAll(rows, scanPage)
	if err != nil {
		return nil, "", err
	}
	if len(pages) == 0 {
		if err := s.mustExist(ctx, kind, owner); err != nil {
			return nil, "", err
		}
	}
	pages, next := page(pages, limit, list, func(p *collector.Page) (int64, string) {
		return ms(p.EnteredAt), p.PageID
	})
	return pages, next, nil
}

// urlFilter adds the url conditions on column: equality for exact, and
// for prefix a comparison of the column's first characters with it.
// substr and length count characters alike on both sides, and no
// character of prefix is special (LIKE would need its % and _ escaped, and
// is case-insensitive for ASCII).
func urlFilter(w *where, column, exact, prefix string) {
	if exact != "" {
		w.and(column+` = ?`, exact)
	}
	if prefix != "" {
		w.and(`substr(`+column+`, 1, length(?)) = ?`, prefix, prefix)
	}
}
