package daemon_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/collectortest"
	"github.com/visitrack/visitrack/collector/daemon"
	"github.com/visitrack/visitrack/collector/sqlite"
)

// TestErasureAudit: an erasure over the REST API leaves a record that
// GET /v1/erasures (admin) lists: the erased ids, the id of the token
// that asked (not its secret), and the rows removed by table, counted
// right; and no string of the person, neither in the answer nor on disk.
func TestErasureAudit(t *testing.T) {
	dir := t.TempDir()
	col := collectortest.StartIn(t, dir, "--trusted-proxies", "127.0.0.1/32", "--identity-secret", testSecret, "--rate-limit", "0")
	erased, anon, kept := newPerson("erased"), newPerson("anon"), newPerson("kept")
	kept.seed(t, col, true)
	erased.seed(t, col, true)
	anon.seed(t, col, false)

	s, closeDB, err := daemon.OpenStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	eraser, secret, err := s.CreateToken(context.Background(), []string{collector.ScopeHistoryDelete})
	closeDB()
	if err != nil {
		t.Fatal(err)
	}
	reader, err := sqlite.Open(filepath.Join(dir, "visitrack.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	// What the erasure must count: the rows of the person's browser.
	want := map[string]int{"visit_identities": 1, "visitor_data": 1, "identity_visitors": 1, "visitors": 1, "identities": 1}
	for table, where := range map[string]string{
		"events":         `visitor_id = ?`,
		"visits":         `visitor_id = ?`,
		"sessions":       `visit_id IN (SELECT visit_id FROM visits WHERE visitor_id = ?)`,
		"pages":          `visit_id IN (SELECT visit_id FROM visits WHERE visitor_id = ?)`,
		"visit_metadata": `visit_id IN (SELECT visit_id FROM visits WHERE visitor_id = ?)`,
	} {
		var n int
		if err := reader.QueryRow(`SELECT count(*) FROM `+table+` WHERE `+where, erased.visitorID).Scan(&n); err != nil || n == 0 {
			t.Fatalf("%d rows of %s of the erased person (%v)", n, table, err)
		}
		want[table] = n
	}
	if want["events"] < 300 {
		t.Fatalf("%d events of the erased person", want["events"])
	}
	if status, b := collectortest.Request(t, col.URL(), secret, "DELETE", "/v1/identities/"+erased.identityID, nil); status != 204 {
		t.Fatalf("erase identity: %d %s", status, b)
	}
	if status, b := col.Do("DELETE", "/v1/visitors/"+anon.visitorID, nil); status != 204 {
		t.Fatalf("erase visitor: %d %s", status, b)
	}

	// Admin only: the token that may erase may not read the audit.
	if status, b := collectortest.Request(t, col.URL(), secret, "GET", "/v1/erasures", nil); status != 403 {
		t.Errorf("GET /v1/erasures with history:delete: %d %s, want 403", status, b)
	}
	status, body := col.Do("GET", "/v1/erasures?limit=1", nil)
	if status != 200 {
		t.Fatalf("GET /v1/erasures: %d %s", status, body)
	}
	var page struct {
		Items      []*collector.Erasure `json:"items"`
		NextCursor string               `json:"nextCursor"`
	}
	if err := json.Unmarshal(body, &page); err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("first page %s", body)
	}
	rec := page.Items[0]
	if rec.Kind != collector.SubjectVisitor || rec.SubjectID != anon.visitorID || rec.State != collector.ErasureDone ||
		rec.Removed["visits"] != 1 || rec.Removed["visitors"] != 1 || rec.Removed["visitor_data"] != 1 {
		t.Errorf("the visitor's record %s", body)
	}
	status, body2 := col.Do("GET", "/v1/erasures?limit=1&cursor="+page.NextCursor, nil)
	if status != 200 {
		t.Fatalf("GET /v1/erasures, page 2: %d %s", status, body2)
	}
	page.Items, page.NextCursor = nil, ""
	if err := json.Unmarshal(body2, &page); err != nil || len(page.Items) != 1 || page.NextCursor != "" {
		t.Fatalf("second page %s (%v)", body2, err)
	}
	rec = page.Items[0]
	for table, n := range want {
		if rec.Removed[table] != n {
			t.Errorf("removed %d rows of %s, want %d (record %s)", rec.Removed[table], table, n, body2)
		}
	}
	if rec.Kind != collector.SubjectIdentity || rec.SubjectID != erased.identityID || rec.TokenID != eraser.TokenID ||
		len(rec.VisitorIDs) != 1 || rec.VisitorIDs[0] != erased.visitorID || rec.FinishedAt == nil {
		t.Errorf("the identity's record %s, want token %s", body2, eraser.TokenID)
	}
	for _, p := range []*person{erased, anon} {
		for what, m := range p.markers() {
			if strings.Contains(string(body)+string(body2), m) {
				t.Errorf("the audit holds the %s %q", what, m)
			}
		}
	}
	if strings.Contains(string(body)+string(body2), secret) {
		t.Error("the audit holds the token's secret")
	}
	reader.Close()
	col.Stop()
	for _, p := range []*person{erased, anon} {
		if found := scan(t, dir, p.markers()); len(found) > 0 {
			t.Errorf("after the erasure: %s", strings.Join(found, "; "))
		}
	}
}
