package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/visitrack/visitrack/collector"
)

// The webhook endpoints (docs/integrations.md#webhooks), scope admin:
//
//	POST   /v1/webhooks        {"url","events":[…]} → 201 with the secret, shown once
//	GET    /v1/webhooks        {"items":[…],"nextCursor":null}, without secrets
//	DELETE /v1/webhooks/{id}   204
//
// A collector keeps at most 100 webhooks, so the list is one page.

// HandleWebhooks registers the webhook endpoints, served by svc.
func (h *Handler) HandleWebhooks(svc collector.WebhookService) {
	admin := collector.ScopeAdmin
	h.Handle("POST /v1/webhooks", admin, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		b, err := readBody(w, r, 16<<10, "application/json")
		if err != nil {
			return err
		}
		var in struct {
			URL    *string  `json:"url"`
			Events []string `json:"events"`
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil || dec.More() {
			return collector.Errorf(collector.EINVALID, `send {"url":"https://…","events":["SignIn",…]}: %v`, err)
		}
		if in.URL == nil || *in.URL == "" {
			return collector.Errorf(collector.EINVALID, "url is required")
		}
		hook, err := svc.CreateWebhook(r.Context(), *in.URL, in.Events)
		if err != nil {
			return err
		}
		h.log.InfoContext(r.Context(), "api: webhook created", "webhookId", hook.ID, "url", hook.URL, "tokenId", TokenFrom(r.Context()).TokenID)
		w.Header().Set("Location", "/v1/webhooks/"+hook.ID)
		return writeJSON(w, http.StatusCreated, hook)
	})
	h.Handle("GET /v1/webhooks", admin, func(w http.ResponseWriter, r *http.Request) error {
		if _, err := query(r); err != nil {
			return err
		}
		hooks, err := svc.ListWebhooks(r.Context())
		if err != nil {
			return err
		}
		return writeList(w, hooks, "")
	})
	h.Handle("DELETE /v1/webhooks/{webhookId}", admin, func(w http.ResponseWriter, r *http.Request) error {
		id, err := pathID(r, "webhookId")
		if err == nil {
			_, err = query(r)
		}
		if err != nil {
			return err
		}
		if err := svc.DeleteWebhook(r.Context(), id); err != nil {
			return err
		}
		h.log.InfoContext(r.Context(), "api: webhook deleted", "webhookId", id, "tokenId", TokenFrom(r.Context()).TokenID)
		w.WriteHeader(http.StatusNoContent)
		return nil
	})
}
