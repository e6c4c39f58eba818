package api

import (
	"net/http"
	"net/url"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The History additions (docs/api.md#filters-on-pages-and-events): an identity's pages, a page's
// events, and the url, urlPrefix and title filters.

// GET /v1/identities/{identityId}/pages?url=&urlPrefix=&title=
func (h *Handler) listIdentityPages(w http.ResponseWriter, r *http.Request) error {
	return h.listPages(w, r, "identityId")
}

// listPages serves a pages list under the visit or identity in the path
// parameter owner.
func (h *Handler) listPages(w http.ResponseWriter, r *http.Request, owner string) error {
	id, err := pathID(r, owner)
	if err != nil {
		return err
	}
	q, err := query(r, "url", "urlPrefix", "title", paramLimit, paramCursor)
	if err != nil {
		return err
	}
	f := collector.PageFilter{Title: q.Get("title")}
	if owner == "visitId" {
		f.VisitID = id
	} else {
		f.IdentityID = id
	}
	if f.URL, f.URLPrefix, err = urlParams(q); err != nil {
		return err
	}
	if q.Has("title") && (f.Title == "" || len(f.Title) > protocol.MaxTitleLen) {
		return collector.Errorf(collector.EINVALID, "title must be 1 to %d bytes", protocol.MaxTitleLen)
	}
	if f.ListOptions, err = listOptions(q); err != nil {
		return err
	}
	pages, next, err := h.cfg.History.ListPages(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, pages, next)
}

// GET /v1/pages/{pageId}/events?name=&category=&since=&until=&url=&urlPrefix=
// 404 for an unknown page.
func (h *Handler) listPageEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "pageId")
	if err != nil {
		return err
	}
	f, err := eventFilter(r, false)
	if err != nil {
		return err
	}
	f.PageID = id
	events, next, err := h.cfg.History.FindEvents(r.Context(), f)
	if err == nil && len(events) == 0 {
		_, err = h.cfg.History.FindPage(r.Context(), id) // 404 for an unknown page
	}
	if err != nil {
		return err
	}
	return writeList(w, events, next)
}

// urlParams reads url (exact) and urlPrefix. Given, each must be 1 to
// MaxURLLen bytes: an empty filter would silently match everything.
func urlParams(q url.Values) (exact, prefix string, err error) {
	for _, name := range []string{"url", "urlPrefix"} {
		if v := q.Get(name); q.Has(name) && (v == "" || len(v) > protocol.MaxURLLen) {
			return "", "", collector.Errorf(collector.EINVALID, "%s must be 1 to %d bytes", name, protocol.MaxURLLen)
		}
	}
	return q.Get("url"), q.Get("urlPrefix"), nil
}
