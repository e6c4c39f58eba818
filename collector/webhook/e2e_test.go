package webhook_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// The whole story on a real collector: register over the REST API, send
// events over /v1/collect, write visitor data over the REST API; the
// receiver verifies every signature with the secret the API returned.
func TestCollectorDeliversWebhooks(t *testing.T) {
	c := collectortest.Start(t, "--webhook-allow-private")
	r := newReceiver(t)
	status, b := c.Do("POST", "/v1/webhooks", map[string]any{"url": r.URL(), "events": []string{"business:AddToCart", "visitorData.changed", "VisitStarted"}})
	if status != http.StatusCreated {
		t.Fatalf("register: %d %s", status, b)
	}
	var hook struct{ ID, Secret string }
	json.Unmarshal(b, &hook)
	r.setSecret(hook.Secret)

	page := collectortest.NewID()
	events := []protocol.Event{
		collectortest.Event("VisitStarted", "", nil),
		collectortest.Event("PageEntered", page, nil),
		collectortest.Event("AddToCart", page, map[string]any{"sku": "A-1"}),
	}
	status, b = c.Do("POST", "/v1/collect", map[string]any{"events": events})
	if status != http.StatusOK {
		t.Fatalf("collect: %d %s", status, b)
	}
	var res struct {
		Ack struct{ EventIDs []string } `json:"ack"`
	}
	json.Unmarshal(b, &res)
	if len(res.Ack.EventIDs) != 3 {
		t.Fatalf("collect: %s", b)
	}
	r.wait("VisitStarted and AddToCart", func() bool { return len(r.accepted) == 2 })
	cart := r.bodies()["msg_"+hook.ID+"_"+events[2].EventID]
	if cart == nil || cart["type"] != "business:AddToCart" {
		t.Fatalf("deliveries %v", r.bodies())
	}
	visitorID := cart["data"].(map[string]any)["visitorId"].(string)

	status, b = c.Do("PATCH", "/v1/visitors/"+visitorID+"/visitor-data/crm", `{"tier":"gold"}`, "Content-Type", "application/merge-patch+json")
	if status != http.StatusOK {
		t.Fatalf("patch: %d %s", status, b)
	}
	r.wait("visitorData.changed", func() bool { return len(r.accepted) == 3 })
	r.check()
	found := false
	for _, d := range r.bodies() {
		if d["type"] == "visitorData.changed" {
			data := d["data"].(map[string]any)
			found = data["subject"] == "visitor:"+visitorID && data["version"] == 1.0 &&
				data["data"].(map[string]any)["crm"].(map[string]any)["tier"] == "gold"
		}
	}
	if !found {
		t.Errorf("no visitorData.changed with the new document: %v", r.bodies())
	}
	// The worker counts a delivery once it has recorded the 2xx.
	waitFor(t, "visitrack_webhook_deliveries_delivered_total 3", func() bool {
		status, b = c.Do("GET", "/metrics", nil)
		return status == 200 && strings.Contains(string(b), "visitrack_webhook_deliveries_delivered_total 3")
	})
	if !strings.Contains(string(b), "visitrack_webhook_deliveries_failed_total 0") {
		t.Errorf("metrics: %s", grepLines(string(b), "visitrack_webhook"))
	}
}

// Without --webhook-allow-private, a target on loopback, or in any other
// special-purpose block however it is spelled, is refused when it is
// registered, with a problem that names the block.
func TestCollectorRefusesPrivateTargets(t *testing.T) {
	c := collectortest.Start(t)
	for url, block := range map[string]string{
		"http://127.0.0.1:9/hook":         "127.0.0.0/8",
		"http://[::127.0.0.1]:9/hook":     "::/96",
		"http://[fec0::1]/hook":           "fec0::/10",
		"http://[64:ff9b::a9fe:a9fe]/":    "169.254.0.0/16",
		"http://[2002:a00:1::1]/hook":     "10.0.0.0/8",
		"https://192.0.0.170/hook":        "192.0.0.170/32",
		"https://[100::1]/hook":           "100::/64",
		"https://[2001:2::1]/hook":        "2001:2::/48",
		"https://[5f00::1]/hook":          "5f00::/16",
		"http://198.18.0.1/hook":          "198.18.0.0/15",
		"http://[::ffff:169.254.1.1]/x":   "169.254.0.0/16",
		"http://[fe80::1%25eth0]:8080/hk": "fe80::/10",
	} {
		status, b := c.Do("POST", "/v1/webhooks", map[string]any{"url": url, "events": []string{"SignIn"}})
		if status != http.StatusBadRequest || !strings.Contains(string(b), "--webhook-allow-private") || !strings.Contains(string(b), "("+block+",") {
			t.Errorf("register %s: %d %s, want 400 naming %s", url, status, b, block)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
