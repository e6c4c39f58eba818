package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/visitrack/visitrack/collector/problem"
)

// Without a Notifier (the edge build) notifications are refused with 501
// and a reason, after authentication and the scope check; the full path
// is tested against a real collector in package live.
func TestNotificationsWithoutNotifier(t *testing.T) {
	e := newEnv(t)
	path := "/v1/visits/" + e.f.V1 + "/notifications"
	if r := e.post(path, e.read, "application/json", `{"channel":"chat"}`); r.status != http.StatusForbidden {
		t.Errorf("history:read: %d %s", r.status, r.body)
	}
	r := e.post(path, e.admin, "application/json", `{"channel":"chat"}`)
	var p problem.Details
	if r.status != http.StatusNotImplemented || json.Unmarshal(r.body, &p) != nil || p.Code != "notifications_unavailable" {
		t.Errorf("without a notifier: %d %s", r.status, r.body)
	}
}
