package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// vdRecorder is a VisitorDataListener that keeps what it heard.
type vdRecorder struct {
	mu  sync.Mutex
	got []collector.VisitorData
}

func (r *vdRecorder) VisitorDataChanged(vd *collector.VisitorData) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, *vd)
}

func (r *vdRecorder) versions(key string) []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int64
	for _, vd := range r.got {
		if vd.Subject.Key() == key {
			out = append(out, vd.Version)
		}
	}
	return out
}

func vdAddIdentity(t testing.TB, s *store.Store, id string) collector.Subject {
	storetest.Exec(t, s, `INSERT INTO identities (identity_id, user_id, first_seen_at, last_seen_at) VALUES (?, ?, 0, 0)`, id, "user-"+id)
	return collector.Subject{Kind: collector.SubjectIdentity, ID: id}
}

func vdAddVisitor(t testing.TB, s *store.Store, id string) collector.Subject {
	storetest.Exec(t, s, `INSERT INTO visitors (visitor_id, first_seen_at, last_seen_at) VALUES (?, 0, 0)`, id)
	return collector.Subject{Kind: collector.SubjectVisitor, ID: id}
}

func vdAddVisit(t testing.TB, s *store.Store, visitID, visitorID string) {
	storetest.Exec(t, s, `INSERT INTO visits (visit_id, visitor_id, session_id, started_at, last_seen_at) VALUES (?, ?, ?, 0, 0)`,
		visitID, visitorID, storetest.ID(9, 1))
}

func vdWantCode(t testing.TB, err error, code string) {
	t.Helper()
	if collector.ErrorCode(err) != code {
		t.Fatalf("error = %v, want code %s", err, code)
	}
}

func vdPtr(v int64) *int64 { return &v }

func vdRaw(s string) json.RawMessage { return json.RawMessage(s) }

func TestVisitorDataLifecycle(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	rec := &vdRecorder{}
	vd := store.NewVisitorData(s, rec)
	alice := vdAddIdentity(t, s, storetest.ID(2, 1))

	got, err := vd.GetVisitorData(ctx, alice)
	if err != nil || got.Version != 0 || string(got.Data) != "{}" {
		t.Fatalf("empty document: %+v, %v", got, err)
	}
	// Writes to an unknown subject are refused; reads are not.
	ghost := collector.Subject{Kind: collector.SubjectIdentity, ID: storetest.ID(2, 99)}
	_, err = vd.PatchNamespace(ctx, ghost, "crm", vdRaw(`{"a":1}`), nil)
	vdWantCode(t, err, collector.ENOTFOUND)
	_, err = vd.GetVisitorData(ctx, collector.Subject{Kind: "user", ID: alice.ID})
	vdWantCode(t, err, collector.EINVALID)

	steps := []func() (*collector.VisitorData, error){
		func() (*collector.VisitorData, error) {
			return vd.PatchNamespace(ctx, alice, "crm_integration", vdRaw(`{"customer_segment":"corporate"}`), nil)
		},
		func() (*collector.VisitorData, error) {
			return vd.PatchNamespace(ctx, alice, "crm_integration", vdRaw(`{"campaigns":["forex"]}`), vdPtr(1))
		},
		func() (*collector.VisitorData, error) {
			return vd.PutNamespace(ctx, alice, "campaign", vdRaw(`{"completed":true}`))
		},
		func() (*collector.VisitorData, error) { return vd.DeleteNamespace(ctx, alice, "campaign", nil) },
	}
	for i, step := range steps {
		got, err := step()
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got.Version != int64(i+1) {
			t.Fatalf("step %d: version %d", i, got.Version)
		}
	}
	got, _ = vd.GetVisitorData(ctx, alice)
	if want := `{"crm_integration":{"campaigns":["forex"],"customer_segment":"corporate"}}`; string(got.Data) != want || got.Version != 4 {
		t.Fatalf("document v%d %s, want v4 %s", got.Version, got.Data, want)
	}
	if v := fmt.Sprint(rec.versions(alice.Key())); v != "[1 2 3 4]" {
		t.Fatalf("listener heard versions %s", v)
	}

	// Refusals leave the document and version alone, and nobody hears.
	_, err = vd.DeleteNamespace(ctx, alice, "campaign", nil)
	vdWantCode(t, err, collector.ENOTFOUND)
	_, err = vd.PatchNamespace(ctx, alice, "crm_integration", vdRaw(`{"x":1}`), vdPtr(3))
	vdWantCode(t, err, collector.EPRECONDITIONFAILED)
	_, err = vd.PatchNamespace(ctx, alice, "Bad", vdRaw(`{"x":1}`), nil)
	vdWantCode(t, err, collector.EINVALID)
	_, err = vd.PatchNamespace(ctx, alice, "crm_integration", vdRaw(`[1]`), nil)
	vdWantCode(t, err, collector.EINVALID)
	_, err = vd.PatchNamespace(ctx, alice, "crm_integration", vdRaw(`{"big":"`+strings.Repeat("x", 65500)+`"}`), nil)
	vdWantCode(t, err, collector.ETOOLARGE)
	_, err = vd.PutVisitorData(ctx, alice, 4, vdRaw(`{"crm_integration":{},"x":1}`), nil)
	vdWantCode(t, err, collector.EINVALID)
	_, err = vd.PutVisitorData(ctx, alice, 3, vdRaw(`{}`), nil)
	vdWantCode(t, err, collector.EPRECONDITIONFAILED)
	after, _ := vd.GetVisitorData(ctx, alice)
	if after.Version != 4 || string(after.Data) != string(got.Data) || len(rec.versions(alice.Key())) != 4 {
		t.Fatalf("a refused write changed something: v%d %s", after.Version, after.Data)
	}
}

func TestPutVisitorDataScopes(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	vd := store.NewVisitorData(s)
	alice := vdAddIdentity(t, s, storetest.ID(2, 1))
	if _, err := vd.PutVisitorData(ctx, alice, 0, vdRaw(`{"crm_integration":{"a":1},"digital_signature":{"w":true}}`), nil); err != nil {
		t.Fatal(err)
	}
	crmOnly := func(ns string) bool { return ns == "crm_integration" }
	// Changing its own namespace, and rewriting another's identically
	// (key order and spacing differ): allowed.
	got, err := vd.PutVisitorData(ctx, alice, 1, vdRaw(`{"digital_signature": {"w": true}, "crm_integration":{"a":2}}`), crmOnly)
	if err != nil || got.Version != 2 {
		t.Fatalf("own namespace: %v", err)
	}
	for _, doc := range []string{
		`{"crm_integration":{"a":3}}`,                                       // drops digital_signature
		`{"crm_integration":{"a":3},"digital_signature":{"w":false}}`,       // changes it
		`{"crm_integration":{"a":3},"digital_signature":{"w":true},"x":{}}`, // adds one
	} {
		_, err := vd.PutVisitorData(ctx, alice, 2, vdRaw(doc), crmOnly)
		vdWantCode(t, err, collector.EFORBIDDEN)
	}
	after, _ := vd.GetVisitorData(ctx, alice)
	if after.Version != 2 || string(after.Data) != `{"crm_integration":{"a":2},"digital_signature":{"w":true}}` {
		t.Fatalf("after refusals: v%d %s", after.Version, after.Data)
	}
}

// TestNoLostUpdateStore: 8 writers patch their own namespace of one
// subject 200 times each, concurrently with whole-document writers that
// loop on If-Match; two service instances share the database, as two
// processes would (their locks are separate, only the compare-and-set
// protects them).
func TestNoLostUpdateStore(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	rec := &vdRecorder{}
	services := []*store.VisitorData{store.NewVisitorData(s, rec), store.NewVisitorData(s, rec)}
	alice := vdAddIdentity(t, s, storetest.ID(2, 1))
	const writers, patches = 8, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	successes := 0
	errs := make(chan error, 100)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := services[w%2]
			ns := fmt.Sprintf("writer_%d", w)
			for i := range patches {
				if _, err := svc.PatchNamespace(ctx, alice, ns, vdRaw(fmt.Sprintf(`{"n":%d,"i%d":true}`, i, i%3)), nil); err != nil {
					errs <- fmt.Errorf("%s patch %d: %w", ns, i, err)
					return
				}
				mu.Lock()
				successes++
				mu.Unlock()
			}
		}()
	}
	wholeDone := make([]int, 2)
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			svc := services[w]
			ns := fmt.Sprintf("whole_%d", w)
			for i := 0; i < 30; {
				cur, err := svc.GetVisitorData(ctx, alice)
				if err != nil {
					errs <- err
					return
				}
				var doc map[string]json.RawMessage
				json.Unmarshal(cur.Data, &doc)
				doc[ns] = vdRaw(fmt.Sprintf(`{"n":%d}`, i))
				b, _ := json.Marshal(doc)
				_, err = svc.PutVisitorData(ctx, alice, cur.Version, b, nil)
				if collector.ErrorCode(err) == collector.EPRECONDITIONFAILED {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				successes++
				mu.Unlock()
				wholeDone[w]++
				i++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := services[0].GetVisitorData(ctx, alice)
	var doc map[string]map[string]any
	if err := json.Unmarshal(got.Data, &doc); err != nil {
		t.Fatal(err)
	}
	for w := range writers {
		if n := doc[fmt.Sprintf("writer_%d", w)]["n"]; n != float64(patches-1) {
			t.Errorf("writer_%d ends at n=%v, want %d", w, n, patches-1)
		}
	}
	for w := range 2 {
		if n := doc[fmt.Sprintf("whole_%d", w)]["n"]; n != float64(29) {
			t.Errorf("whole_%d ends at n=%v, want 29", w, n)
		}
	}
	if got.Version != int64(successes) || successes != writers*patches+60 {
		t.Fatalf("version %d, successful writes %d, want %d", got.Version, successes, writers*patches+60)
	}
	vs := rec.versions(alice.Key())
	if len(vs) != successes {
		t.Fatalf("listeners heard %d changes, want %d", len(vs), successes)
	}
}

func TestStitchVisitorData(t *testing.T) {
	for _, tx := range []bool{true, false} {
		t.Run(fmt.Sprintf("transactions=%v", tx), func(t *testing.T) {
			ctx := context.Background()
			var opts []store.Option
			if !tx {
				opts = append(opts, store.WithoutTransactions())
			}
			s := storetest.New(t, opts...)
			rec := &vdRecorder{}
			vd := store.NewVisitorData(s, rec)
			alice := vdAddIdentity(t, s, storetest.ID(2, 1))
			browser := vdAddVisitor(t, s, storetest.ID(1, 1))
			if _, err := vd.PutVisitorData(ctx, alice, 0, vdRaw(`{"crm":{"who":"identity"}}`), nil); err != nil {
				t.Fatal(err)
			}
			if _, err := vd.PutVisitorData(ctx, browser, 0, vdRaw(`{"crm":{"who":"visitor"},"campaign":{"completed":true}}`), nil); err != nil {
				t.Fatal(err)
			}
			got, err := vd.StitchVisitorData(ctx, browser.ID, alice.ID)
			if err != nil {
				t.Fatal(err)
			}
			if want := `{"campaign":{"completed":true},"crm":{"who":"identity"}}`; got.Version != 2 || string(got.Data) != want {
				t.Fatalf("stitched identity v%d %s, want v2 %s", got.Version, got.Data, want)
			}
			vis, _ := vd.GetVisitorData(ctx, browser)
			if vis.Version != 2 || string(vis.Data) != "{}" {
				t.Fatalf("visitor after stitch: v%d %s", vis.Version, vis.Data)
			}
			if a, b := fmt.Sprint(rec.versions(alice.Key())), fmt.Sprint(rec.versions(browser.Key())); a != "[1 2]" || b != "[1 2]" {
				t.Fatalf("heard identity %s, visitor %s", a, b)
			}
			// Nothing left to merge: no write, no announcement.
			again, err := vd.StitchVisitorData(ctx, browser.ID, alice.ID)
			if err != nil || again.Version != 2 || len(rec.versions(alice.Key())) != 2 || len(rec.versions(browser.Key())) != 2 {
				t.Fatalf("second stitch: %+v, %v", again, err)
			}
		})
	}
}

func TestStitchKeepsWhatDoesNotFit(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	vd := store.NewVisitorData(s)
	alice := vdAddIdentity(t, s, storetest.ID(2, 1))
	browser := vdAddVisitor(t, s, storetest.ID(1, 1))
	if _, err := vd.PatchNamespace(ctx, alice, "big", vdRaw(`{"s":"`+strings.Repeat("x", 65000)+`"}`), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := vd.PatchNamespace(ctx, browser, "campaign", vdRaw(`{"s":"`+strings.Repeat("y", 1000)+`"}`), nil); err != nil {
		t.Fatal(err)
	}
	got, err := vd.StitchVisitorData(ctx, browser.ID, alice.ID)
	if err != nil || got.Version != 1 {
		t.Fatalf("stitch: %+v %v", got, err)
	}
	vis, _ := vd.GetVisitorData(ctx, browser)
	if vis.Version != 1 || !strings.Contains(string(vis.Data), `"campaign"`) {
		t.Fatalf("a namespace that did not fit was lost: v%d %.40s", vis.Version, vis.Data)
	}
}

func TestMetadata(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	md := store.NewMetadata(s)
	visit := storetest.ID(3, 1)
	vdAddVisit(t, s, visit, storetest.ID(1, 1))

	_, err := md.GetVisitMetadata(ctx, storetest.ID(3, 2))
	vdWantCode(t, err, collector.ENOTFOUND)
	_, err = md.PutVisitMetadata(ctx, storetest.ID(3, 2), []byte(`{}`), nil)
	vdWantCode(t, err, collector.ENOTFOUND)
	_, err = md.GetVisitMetadata(ctx, "not-a-ulid")
	vdWantCode(t, err, collector.ENOTFOUND)

	got, err := md.GetVisitMetadata(ctx, visit)
	if b, _ := json.Marshal(got); err != nil || string(b) != `{"visitId":"`+visit+`","version":0,"data":{},"updatedAt":null}` {
		t.Fatalf("empty metadata: %s, %v", b, err)
	}
	if _, err := md.PutVisitMetadata(ctx, visit, []byte(`{"agent":"x","risk":{"score":3}}`), vdPtr(0)); err != nil {
		t.Fatal(err)
	}
	got, err = md.PatchVisitMetadata(ctx, visit, []byte(`{"risk":{"score":null,"flag":true}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := got.Data.MarshalJSON()
	if got.Version != 2 || string(b) != `{"agent":"x","risk":{"flag":true}}` || got.UpdatedAt == nil {
		t.Fatalf("patched metadata v%d %s", got.Version, b)
	}
	_, err = md.PutVisitMetadata(ctx, visit, []byte(`{}`), vdPtr(1))
	vdWantCode(t, err, collector.EPRECONDITIONFAILED)
	_, err = md.PutVisitMetadata(ctx, visit, []byte(`[]`), nil)
	vdWantCode(t, err, collector.EINVALID)
	_, err = md.PatchVisitMetadata(ctx, visit, []byte(`{"s":"`+strings.Repeat("x", 65530)+`"}`), nil)
	vdWantCode(t, err, collector.ETOOLARGE)
	after, _ := md.GetVisitMetadata(ctx, visit)
	if a, _ := after.Data.MarshalJSON(); after.Version != 2 || string(a) != string(b) {
		t.Fatalf("refusals changed metadata: v%d %s", after.Version, a)
	}
	// Stored apart: visitor data knows nothing of it.
	if n := storetest.Count(t, s, "visitor_data", ""); n != 0 {
		t.Fatalf("%d visitor_data rows after metadata writes", n)
	}
}
