package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/webhook"
)

func webhookEnv(t *testing.T) *env {
	return newEnv(t, func(h *Handler) {
		s := h.cfg.History.(*store.Store)
		h.HandleWebhooks(webhook.NewService(s, webhook.Guard{}, webhook.NewOutbox(s, nil, nil, nil), nil, nil))
	})
}

func (e *env) send(method, path, token, contentType, body string) *response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

func TestWebhookEndpoints(t *testing.T) {
	e := webhookEnv(t)
	r := e.send("POST", "/v1/webhooks", e.admin, "application/json", `{"url":"https://93.184.216.34/hook","events":["SignIn","business:*","SignIn"]}`)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		ID, URL, Secret string
		Events          []string
	}
	json.Unmarshal(r.body, &created)
	if created.ID == "" || created.URL != "https://93.184.216.34/hook" || !strings.HasPrefix(created.Secret, "whsec_") ||
		strings.Join(created.Events, ",") != "SignIn,business:*" || r.header.Get("Location") != "/v1/webhooks/"+created.ID {
		t.Errorf("created %+v, Location %q", created, r.header.Get("Location"))
	}

	r = e.do("GET", "/v1/webhooks", e.admin)
	var p page
	r.ok(t, &p)
	if len(p.Items) != 1 || p.Items[0]["id"] != created.ID || p.NextCursor != nil {
		t.Fatalf("list %s", r.body)
	}
	if bytes.Contains(r.body, []byte("whsec_")) || p.Items[0]["secret"] != nil {
		t.Errorf("the list shows the secret: %s", r.body)
	}

	for name, c := range map[string]struct {
		body, ct, want string
		status         int
	}{
		"loopback":      {`{"url":"http://127.0.0.1:9/h","events":["SignIn"]}`, "application/json", "loopback", 400},
		"metadata":      {`{"url":"http://169.254.169.254/latest","events":["SignIn"]}`, "application/json", "link-local", 400},
		"scheme":        {`{"url":"ftp://93.184.216.34/h","events":["SignIn"]}`, "application/json", "http or https", 400},
		"no url":        {`{"events":["SignIn"]}`, "application/json", "url is required", 400},
		"event type":    {`{"url":"https://93.184.216.34/h","events":["PageEntered"]}`, "application/json", "unknown event type", 400},
		"no events":     {`{"url":"https://93.184.216.34/h","events":[]}`, "application/json", "at least one", 400},
		"unknown field": {`{"url":"https://93.184.216.34/h","events":["SignIn"],"secret":"mine"}`, "application/json", "unknown field", 400},
		"not json":      {`url=x`, "application/json", "send {", 400},
		"media type":    {`{}`, "text/plain", "Content-Type", 415},
	} {
		r := e.send("POST", "/v1/webhooks", e.admin, c.ct, c.body)
		if r.status != c.status || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want %d with %q", name, r.status, r.body, c.status, c.want)
		}
	}
	e.send("POST", "/v1/webhooks", e.read, "application/json", `{"url":"https://93.184.216.34/hook","events":["SignIn"]}`).
		problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	e.do("GET", "/v1/webhooks", e.read).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	e.do("DELETE", "/v1/webhooks/"+created.ID, e.read).problem(t, http.StatusForbidden, collector.EFORBIDDEN)
	e.do("GET", "/v1/webhooks", "").problem(t, http.StatusUnauthorized, collector.EUNAUTHORIZED)

	if r := e.do("DELETE", "/v1/webhooks/"+created.ID, e.admin); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	e.do("DELETE", "/v1/webhooks/"+created.ID, e.admin).problem(t, http.StatusNotFound, collector.ENOTFOUND)
	e.do("DELETE", "/v1/webhooks/nope", e.admin).problem(t, http.StatusBadRequest, collector.EINVALID)
	e.do("GET", "/v1/webhooks", e.admin).ok(t, &p)
	if len(p.Items) != 0 {
		t.Errorf("after delete: %v", p.Items)
	}
}
