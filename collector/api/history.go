package api

import (
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// The History endpoints (docs/api.md#history).

func (h *Handler) historyRoutes() {
	read, del := collector.ScopeHistoryRead, collector.ScopeHistoryDelete
	h.Handle("GET /v1/visits", read, h.listVisits)
	h.Handle("GET /v1/visits/{visitId}", read, h.getVisit)
	h.Handle("GET /v1/visits/{visitId}/pages", read, h.listVisitPages)
	h.Handle("GET /v1/visits/{visitId}/events", read, h.listVisitEvents)
	h.Handle("GET /v1/visits/{visitId}/sessions", read, h.listVisitSessions)
	h.Handle("GET /v1/visits/{visitId}/identities", read, h.listVisitIdentities)
	h.Handle("GET /v1/pages/{pageId}", read, h.getPage)
	h.Handle("GET /v1/pages/{pageId}/events", read, h.listPageEvents)
	h.Handle("GET /v1/identities/{identityId}/pages", read, h.listIdentityPages)
	h.Handle("GET /v1/events", read, h.listEvents)
	h.Handle("GET /v1/identities", read, h.listIdentities)
	h.Handle("GET /v1/identities/{identityId}", read, h.getIdentity)
	h.Handle("GET /v1/identities/{identityId}/visits", read, h.listIdentityVisits)
	h.Handle("GET /v1/identities/{identityId}/events", read, h.listIdentityEvents)
	h.Handle("DELETE /v1/identities/{identityId}", del, h.deleteIdentity)
	h.Handle("DELETE /v1/visitors/{visitorId}", del, h.deleteVisitor)
}

// GET /v1/visits?identityId=&visitorId=&state=&since=&until=
func (h *Handler) listVisits(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "identityId", "visitorId", "state", "since", "until", paramLimit, paramCursor)
	if err != nil {
		return err
	}
	var f collector.VisitFilter
	if f.IdentityID, err = idParam("identityId", q.Get("identityId")); err != nil {
		return err
	}
	if f.VisitorID, err = idParam("visitorId", q.Get("visitorId")); err != nil {
		return err
	}
	f.State = q.Get("state")
	if f.Since, err = timeParam(q, "since"); err != nil {
		return err
	}
	if f.Until, err = timeParam(q, "until"); err != nil {
		return err
	}
	if f.ListOptions, err = listOptions(q); err != nil {
		return err
	}
	visits, next, err := h.cfg.History.FindVisits(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, visits, next)
}

// GET /v1/visits/{visitId}
func (h *Handler) getVisit(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "visitId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	v, err := h.cfg.History.FindVisit(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

// GET /v1/visits/{visitId}/pages?url=&urlPrefix=&title=
func (h *Handler) listVisitPages(w http.ResponseWriter, r *http.Request) error {
	return h.listPages(w, r, "visitId")
}

// GET /v1/visits/{visitId}/events?name=&category=&since=&until=
func (h *Handler) listVisitEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "visitId")
	if err != nil {
		return err
	}
	f, err := eventFilter(r, false)
	if err != nil {
		return err
	}
	f.VisitID = id
	events, next, err := h.cfg.History.FindEvents(r.Context(), f)
	if err == nil && len(events) == 0 {
		_, err = h.cfg.History.FindVisit(r.Context(), id) // 404 for an unknown visit
	}
	if err != nil {
		return err
	}
	return writeList(w, events, next)
}

// GET /v1/visits/{visitId}/sessions
func (h *Handler) listVisitSessions(w http.ResponseWriter, r *http.Request) error {
	id, opt, err := subList(r, "visitId")
	if err != nil {
		return err
	}
	sessions, next, err := h.cfg.History.FindSessions(r.Context(), id, opt)
	if err != nil {
		return err
	}
	return writeList(w, sessions, next)
}

// GET /v1/visits/{visitId}/identities: a visit has a handful at most, so
// the list always fits one page.
func (h *Handler) listVisitIdentities(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "visitId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	links, err := h.cfg.History.FindVisitIdentities(r.Context(), id)
	if err != nil {
		return err
	}
	return writeList(w, links, "")
}

// GET /v1/pages/{pageId}
func (h *Handler) getPage(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "pageId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	p, err := h.cfg.History.FindPage(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, p)
}

// GET /v1/events?visitId=&identityId=&name=&category=&since=&until=&url=&urlPrefix=
func (h *Handler) listEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := eventFilter(r, true)
	if err != nil {
		return err
	}
	events, next, err := h.cfg.History.FindEvents(r.Context(), f)
	if err != nil {
		return err
	}
	return writeList(w, events, next)
}

// GET /v1/identities?userId=
func (h *Handler) listIdentities(w http.ResponseWriter, r *http.Request) error {
	q, err := query(r, "userId", paramLimit, paramCursor)
	if err != nil {
		return err
	}
	opt, err := listOptions(q)
	if err != nil {
		return err
	}
	ids, next, err := h.cfg.History.FindIdentities(r.Context(), q.Get("userId"), opt)
	if err != nil {
		return err
	}
	return writeList(w, ids, next)
}

// GET /v1/identities/{identityId}
func (h *Handler) getIdentity(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "identityId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	i, err := h.cfg.History.FindIdentity(r.Context(), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, i)
}

// GET /v1/identities/{identityId}/visits
func (h *Handler) listIdentityVisits(w http.ResponseWriter, r *http.Request) error {
	id, opt, err := subList(r, "identityId")
	if err != nil {
		return err
	}
	visits, next, err := h.cfg.History.FindIdentityVisits(r.Context(), id, opt)
	if err != nil {
		return err
	}
	return writeList(w, visits, next)
}

// GET /v1/identities/{identityId}/events?name=&category=&since=&until=
func (h *Handler) listIdentityEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "identityId")
	if err != nil {
		return err
	}
	f, err := eventFilter(r, false)
	if err != nil {
		return err
	}
	f.IdentityID = id
	events, next, err := h.cfg.History.FindEvents(r.Context(), f)
	if err == nil && len(events) == 0 {
		_, err = h.cfg.History.FindIdentity(r.Context(), id) // 404 for an unknown identity
	}
	if err != nil {
		return err
	}
	return writeList(w, events, next)
}

// DELETE /v1/identities/{identityId}
func (h *Handler) deleteIdentity(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "identityId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	opt := collector.EraseOptions{TokenID: TokenFrom(r.Context()).TokenID}
	if err := h.cfg.History.DeleteIdentity(r.Context(), id, opt); err != nil {
		return err
	}
	h.log.InfoContext(r.Context(), "api: erased identity", "identityId", id, "tokenId", opt.TokenID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DELETE /v1/visitors/{visitorId}
func (h *Handler) deleteVisitor(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r, "visitorId")
	if err == nil {
		_, err = query(r)
	}
	if err != nil {
		return err
	}
	opt := collector.EraseOptions{TokenID: TokenFrom(r.Context()).TokenID}
	if err := h.cfg.History.DeleteVisitor(r.Context(), id, opt); err != nil {
		return err
	}
	h.log.InfoContext(r.Context(), "api: erased visitor", "visitorId", id, "tokenId", opt.TokenID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// subList reads the id of a list under a resource and its list options.
func subList(r *http.Request, name string) (string, collector.ListOptions, error) {
	id, err := pathID(r, name)
	if err != nil {
		return "", collector.ListOptions{}, err
	}
	q, err := query(r, paramLimit, paramCursor)
	if err != nil {
		return "", collector.ListOptions{}, err
	}
	opt, err := listOptions(q)
	return id, opt, err
}

// eventFilter reads the event filters; visitId and identityId only where
// they are not in the path (top is true for /v1/events).
func eventFilter(r *http.Request, top bool) (collector.EventFilter, error) {
	allowed := []string{"name", "category", "since", "until", "url", "urlPrefix", paramLimit, paramCursor}
	if top {
		allowed = append(allowed, "visitId", "identityId")
	}
	q, err := query(r, allowed...)
	if err != nil {
		return collector.EventFilter{}, err
	}
	f := collector.EventFilter{Name: q.Get("name"), Category: q.Get("category")}
	if f.URL, f.URLPrefix, err = urlParams(q); err != nil {
		return f, err
	}
	if f.VisitID, err = idParam("visitId", q.Get("visitId")); err != nil {
		return f, err
	}
	if f.IdentityID, err = idParam("identityId", q.Get("identityId")); err != nil {
		return f, err
	}
	if f.Since, err = timeParam(q, "since"); err != nil {
		return f, err
	}
	if f.Until, err = timeParam(q, "until"); err != nil {
		return f, err
	}
	f.ListOptions, err = listOptions(q)
	return f, err
}
