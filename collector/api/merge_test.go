package api

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// withMerges serves the merge endpoints on the env's store.
func withMerges(h *Handler) {
	s := h.cfg.History.(*store.Store)
	h.cfg.Merges = store.NewMerger(s, store.NewVisitorData(s))
	h.mergeRoutes()
}

// post sends a request with a body of the given media type.
func (e *env) post(path, token, contentType, body string) *response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", contentType)
	res, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return &response{status: res.StatusCode, header: res.Header, body: b}
}

func TestMergeThroughTheAPI(t *testing.T) {
	e := newEnv(t, withMerges)
	f := e.f
	merge := "/v1/identities/" + f.Alice + "/merge"
	body := `{"from":"` + strings.ToLower(f.Bob) + `"}`

	// Only admin may merge or list merges.
	for _, tok := range []string{e.read, e.del, e.other} {
		if r := e.post(merge, tok, "application/json", body); r.status != http.StatusForbidden {
			t.Errorf("merge without admin: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/v1/identities/"+f.Alice+"/merges", tok); r.status != http.StatusForbidden {
			t.Errorf("list merges without admin: %d", r.status)
		}
	}

	var dry collector.IdentityMerge
	e.post(merge+"?dryRun=true", e.admin, "application/json", body).ok(t, &dry)
	want := collector.MergeCounts{Visits: 1, Sessions: 1, Events: 1, VisitLinks: 1, VisitorDataNamespaces: 1}
	if dry.State != "dryRun" || dry.Moved != want || dry.FromIdentityID != f.Bob || dry.IdentityID != f.Alice {
		t.Fatalf("dry run: %+v", dry)
	}
	var none page
	e.do("GET", "/v1/identities/"+f.Alice+"/merges", e.admin).ok(t, &none)
	if len(none.Items) != 0 {
		t.Fatalf("a dry run was recorded: %+v", none.Items)
	}
	if got := e.list(t, "/v1/identities/"+f.Bob+"/visits", "visitId"); len(got) != 1 {
		t.Fatalf("a dry run moved Bob's visits: %v", got)
	}

	var rec collector.IdentityMerge
	e.post(merge, e.admin, "application/json", body).ok(t, &rec)
	if rec.State != "done" || rec.Moved != want || rec.MergeID == "" || rec.FinishedAt == nil || rec.FromUserID != f.BobUser {
		t.Fatalf("merge: %+v", rec)
	}
	if got := e.list(t, "/v1/identities/"+f.Alice+"/visits", "visitId"); len(got) != 4 || got[0] != f.V5 {
		t.Errorf("Alice's visits after the merge: %v", got)
	}
	if got := e.list(t, "/v1/identities?userId="+f.BobUser, "identityId"); len(got) != 1 || got[0] != f.Alice {
		t.Errorf("Bob's userId resolves to %v, want Alice", got)
	}
	e.get("/v1/identities/"+f.Bob).problem(t, http.StatusNotFound, collector.ENOTFOUND)

	var merges page
	e.do("GET", "/v1/identities/"+f.Alice+"/merges", e.admin).ok(t, &merges)
	if ids := merges.ids("mergeId"); len(ids) != 1 || ids[0] != rec.MergeID || merges.Items[0]["tokenId"] == "" ||
		merges.Items[0]["fromUserId"] != f.BobUser || merges.Items[0]["state"] != "done" {
		t.Errorf("merges: %s", merges.Items)
	}
	if !strings.Contains(e.log.String(), "api: merged identity") || !strings.Contains(e.log.String(), rec.MergeID) {
		t.Errorf("the merge was not logged: %s", e.log.String())
	}

	for _, tc := range []struct {
		name, path, contentType, body string
		status                        int
		code, detail                  string
	}{
		{"cycle", "/v1/identities/" + f.Bob + "/merge", "application/json", `{"from":"` + f.Alice + `"}`, 409, collector.ECONFLICT, "was merged into"},
		{"again", merge, "application/json", body, 409, collector.ECONFLICT, "already"},
		{"itself", merge, "application/json", `{"from":"` + f.Alice + `"}`, 400, collector.EINVALID, "itself"},
		{"unknown from", merge, "application/json", `{"from":"` + storetest.ID(6, 99) + `"}`, 404, collector.ENOTFOUND, "not found"},
		{"unknown into", "/v1/identities/" + storetest.ID(6, 99) + "/merge", "application/json", body, 404, collector.ENOTFOUND, "not found"},
		{"no from", merge, "application/json", `{}`, 400, collector.EINVALID, "from is required"},
		{"from not a ULID", merge, "application/json", `{"from":"bob"}`, 400, collector.EINVALID, "ULID"},
		{"extra field", merge, "application/json", `{"from":"` + f.Bob + `","into":"x"}`, 400, collector.EINVALID, "send"},
		{"not JSON", merge, "application/json", `from=bob`, 400, collector.EINVALID, "send"},
		{"bad dryRun", merge + "?dryRun=yes", "application/json", body, 400, collector.EINVALID, "dryRun"},
		{"form", merge, "application/x-www-form-urlencoded", body, 415, collector.EUNSUPPORTEDMEDIA, "Content-Type"},
		{"huge", merge, "application/json", `{"from":"` + strings.Repeat("x", 5000) + `"}`, 413, collector.ETOOLARGE, "larger"},
	} {
		r := e.post(tc.path, e.admin, tc.contentType, tc.body)
		if d := r.problem(t, tc.status, tc.code); !strings.Contains(d, tc.detail) {
			t.Errorf("%s: %q, want %q in it", tc.name, d, tc.detail)
		}
	}
	e.do("GET", "/v1/identities/"+storetest.ID(6, 99)+"/merges", e.admin).problem(t, http.StatusNotFound, collector.ENOTFOUND)
}
