package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/engage"
	"github.com/visitrack/visitrack/collector/store"
)

// The engagement endpoints (docs/engagement.md):
//
//	POST   /v1/engagement/categories            engagement:write → 201
//	GET    /v1/engagement/categories            engagement:read
//	GET    /v1/engagement/categories/{id}       engagement:read; ETag "version"
//	PUT    /v1/engagement/categories/{id}       engagement:write; If-Match required
//	DELETE /v1/engagement/categories/{id}       engagement:write → 204
//	the same for /v1/engagement/rules, and
//	GET    /v1/engagement/rules/{id}/stats      engagement:read
//
// A rule or category that does not validate is a 400 whose detail starts
// with the JSON pointer of the faulty field ("/when/0/count/within: …").

// EngagementStore keeps categories, rules and offers (store.Store).
type EngagementStore interface {
	CreateCategory(ctx context.Context, c *engage.Category) error
	ReplaceCategory(ctx context.Context, c *engage.Category, version int64) error
	Category(ctx context.Context, id string) (*engage.Category, error)
	Categories(ctx context.Context) ([]*engage.Category, error)
	DeleteCategory(ctx context.Context, id string) error
	CountCategories(ctx context.Context) (int, error)
	CreateRule(ctx context.Context, body []byte) (*engage.Rule, error)
	ReplaceRule(ctx context.Context, id string, version int64, body []byte) (*engage.Rule, error)
	Rule(ctx context.Context, id string) (*engage.Rule, error)
	Rules(ctx context.Context) ([]*engage.Rule, error)
	DeleteRule(ctx context.Context, id string) error
	CountRules(ctx context.Context) (int, error)
	RuleStats(ctx context.Context, id string) (*store.RuleStats, error)
}

// Reloader is told after every change, so that the engine runs what is
// stored.
type Reloader interface {
	Reload(ctx context.Context) error
}

const maxEngagementBody = 64 << 10

// HandleEngagement registers the engagement endpoints.
func (h *Handler) HandleEngagement(s EngagementStore, engine Reloader) {
	read, write := collector.ScopeEngagementRead, collector.ScopeEngagementWrite
	changed := func(ctx context.Context) error {
		if err := engine.Reload(ctx); err != nil {
			return collector.Errorf(collector.EINTERNAL, "stored, but the engine could not reload: %v", err)
		}
		return nil
	}
	h.Handle("POST /v1/engagement/categories", write, func(w http.ResponseWriter, r *http.Request) error {
		c, err := h.categoryBody(w, r)
		if err != nil {
			return err
		}
		if n, err := s.CountCategories(r.Context()); err != nil {
			return err
		} else if n >= engage.MaxCategories {
			return collector.Errorf(collector.ECONFLICT, "a collector keeps at most %d categories", engage.MaxCategories)
		}
		if err := s.CreateCategory(r.Context(), c); err != nil {
			return err
		}
		if err := changed(r.Context()); err != nil {
			return err
		}
		w.Header().Set("Location", "/v1/engagement/categories/"+c.ID)
		setETag(w, c.Version)
		return writeJSON(w, http.StatusCreated, c)
	})
	h.Handle("GET /v1/engagement/categories", read, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		cats, err := s.Categories(r.Context())
		if err != nil {
			return err
		}
		return writeList(w, cats, "")
	})
	h.Handle("GET /v1/engagement/categories/{categoryId}", read, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "categoryId")
		if err != nil {
			return err
		}
		c, err := s.Category(r.Context(), id)
		if err != nil {
			return err
		}
		setETag(w, c.Version)
		return writeJSON(w, http.StatusOK, c)
	})
	h.Handle("PUT /v1/engagement/categories/{categoryId}", write, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "categoryId")
		if err != nil {
			return err
		}
		version, err := requireIfMatch(r)
		if err != nil {
			return err
		}
		c, err := h.categoryBody(w, r)
		if err != nil {
			return err
		}
		c.ID = id
		if err := s.ReplaceCategory(r.Context(), c, version); err != nil {
			return err
		}
		if err := changed(r.Context()); err != nil {
			return err
		}
		setETag(w, c.Version)
		return writeJSON(w, http.StatusOK, c)
	})
	h.Handle("DELETE /v1/engagement/categories/{categoryId}", write, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "categoryId")
		if err != nil {
			return err
		}
		if err := s.DeleteCategory(r.Context(), id); err != nil {
			return err
		}
		if err := changed(r.Context()); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})

	h.Handle("POST /v1/engagement/rules", write, func(w http.ResponseWriter, r *http.Request) error {
		body, err := ruleBody(w, r)
		if err != nil {
			return err
		}
		if n, err := s.CountRules(r.Context()); err != nil {
			return err
		} else if n >= engage.MaxRules {
			return collector.Errorf(collector.ECONFLICT, "a collector keeps at most %d rules", engage.MaxRules)
		}
		rule, err := s.CreateRule(r.Context(), body)
		if err != nil {
			return err
		}
		if err := changed(r.Context()); err != nil {
			return err
		}
		h.log.InfoContext(r.Context(), "api: engagement rule created", "ruleId", rule.ID, "tokenId", TokenFrom(r.Context()).TokenID)
		w.Header().Set("Location", "/v1/engagement/rules/"+rule.ID)
		setETag(w, rule.Version)
		return writeJSON(w, http.StatusCreated, rule)
	})
	h.Handle("GET /v1/engagement/rules", read, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		rules, err := s.Rules(r.Context())
		if err != nil {
			return err
		}
		return writeList(w, rules, "")
	})
	h.Handle("GET /v1/engagement/rules/{ruleId}", read, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "ruleId")
		if err != nil {
			return err
		}
		rule, err := s.Rule(r.Context(), id)
		if err != nil {
			return err
		}
		setETag(w, rule.Version)
		return writeJSON(w, http.StatusOK, rule)
	})
	h.Handle("PUT /v1/engagement/rules/{ruleId}", write, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "ruleId")
		if err != nil {
			return err
		}
		version, err := requireIfMatch(r)
		if err != nil {
			return err
		}
		body, err := ruleBody(w, r)
		if err != nil {
			return err
		}
		rule, err := s.ReplaceRule(r.Context(), id, version, body)
		if err != nil {
			return err
		}
		if err := changed(r.Context()); err != nil {
			return err
		}
		setETag(w, rule.Version)
		return writeJSON(w, http.StatusOK, rule)
	})
	h.Handle("DELETE /v1/engagement/rules/{ruleId}", write, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "ruleId")
		if err != nil {
			return err
		}
		if err := s.DeleteRule(r.Context(), id); err != nil {
			return err
		}
		if err := changed(r.Context()); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
	h.Handle("GET /v1/engagement/rules/{ruleId}/stats", read, func(w http.ResponseWriter, r *http.Request) error {
		id, err := engagementID(r, "ruleId")
		if err != nil {
			return err
		}
		if _, err := s.Rule(r.Context(), id); err != nil {
			return err
		}
		st, err := s.RuleStats(r.Context(), id)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusOK, st)
	})
}

func engagementID(r *http.Request, name string) (string, error) {
	id, err := pathID(r, name)
	if err == nil {
		_, err = query(r)
	}
	return id, err
}

// requireIfMatch is the version a replacement must find.
func requireIfMatch(r *http.Request) (int64, error) {
	v, err := ifMatchHeader(r)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 0, collector.Errorf(collector.EPRECONDITIONREQUIRED, `a PUT needs If-Match with the ETag you read (GET it first), such as "1"`)
	}
	return *v, nil
}

func (h *Handler) categoryBody(w http.ResponseWriter, r *http.Request) (*engage.Category, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	b, err := readBody(w, r, maxEngagementBody, "application/json")
	if err != nil {
		return nil, err
	}
	c, err := engage.ParseCategory(b)
	return c, validation(err)
}

func ruleBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if _, err := query(r); err != nil {
		return nil, err
	}
	b, err := readBody(w, r, maxEngagementBody, "application/json")
	if err != nil {
		return nil, err
	}
	_, err = engage.ParseRule(b)
	return b, validation(err)
}

// validation is a parse error as a 400 whose detail starts with the
// faulty field's JSON pointer.
func validation(err error) error {
	var e *engage.Error
	if errors.As(err, &e) {
		return collector.Errorf(collector.EINVALID, "%s", e.Error())
	}
	return err
}
