package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// tableRows counts the rows of every table but the erasure records and
// the migrations.
func tableRows(t *testing.T, s *store.Store) map[string]int {
	t.Helper()
	list := `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT IN ('erasures', 'schema_migrations') AND name NOT LIKE 'sqlite_%'`
	if s.Dialect().Name == "postgres" {
		// A partitioned table once, without its partitions.
		list = `SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition
			AND c.relname NOT IN ('erasures', 'schema_migrations')`
	}
	rows, err := s.DB().Query(list)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, n)
	}
	rows.Close()
	m := map[string]int{}
	for _, table := range tables {
		m[table] = storetest.Count(t, s, table, "")
	}
	return m
}

// removedRows is before minus after, by table, without the zeros.
func removedRows(before, after map[string]int) map[string]int {
	m := map[string]int{}
	for table, n := range before {
		if d := n - after[table]; d != 0 {
			m[table] = d
		}
	}
	return m
}

func nonZero(m map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		if v != 0 {
			out[k] = v
		}
	}
	return out
}

func erasureRecords(t *testing.T, s *store.Store) []*collector.Erasure {
	t.Helper()
	recs, _, err := s.FindErasures(context.Background(), collector.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// Every erasure leaves one record: the ids, the token, and the rows it
// removed by table, exactly those that went; no userId, attribute or
// document of the person.
func TestErasureRecord(t *testing.T) {
	ctx := context.Background()
	r := newMergeRig(t) // Carol merged into Bob; Bob shares browser A with Alice
	s := r.s
	before := tableRows(t, s)
	if err := s.DeleteIdentity(ctx, r.Bob, collector.EraseOptions{TokenID: "tok-erase"}); err != nil {
		t.Fatal(err)
	}
	recs := erasureRecords(t, s)
	if len(recs) != 1 {
		t.Fatalf("%d erasure records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.Kind != collector.SubjectIdentity || rec.SubjectID != r.Bob || rec.TokenID != "tok-erase" ||
		rec.State != collector.ErasureDone || rec.FinishedAt == nil || rec.ErasureID == "" ||
		!slices.Equal(rec.MergedIdentityIDs, []string{r.Carol}) ||
		!slices.Equal(rec.VisitorIDs, []string{r.VisitorA, r.VisitorC}) {
		t.Errorf("record %+v", rec)
	}
	if got, want := nonZero(rec.Removed), removedRows(before, tableRows(t, s)); !maps.Equal(got, want) {
		t.Errorf("record says it removed %v; the tables lost %v", got, want)
	}
	b, _ := json.Marshal(rec)
	for _, personal := range []string{r.BobUser, "carol@example.com", "silver", "Oslo", "loyalty", "chat", "UA-3", "shop.example"} {
		if strings.Contains(string(b), personal) {
			t.Errorf("the record holds %q: %s", personal, b)
		}
	}

	// A browser.
	before = tableRows(t, s)
	if err := s.DeleteVisitor(ctx, r.VisitorB, collector.EraseOptions{TokenID: "tok-2"}); err != nil {
		t.Fatal(err)
	}
	recs = erasureRecords(t, s)
	if len(recs) != 2 {
		t.Fatalf("%d erasure records, want 2", len(recs))
	}
	var v *collector.Erasure
	for _, x := range recs {
		if x.Kind == collector.SubjectVisitor {
			v = x
		}
	}
	if v == nil || v.SubjectID != r.VisitorB || v.TokenID != "tok-2" || v.State != collector.ErasureDone ||
		!slices.Equal(v.VisitorIDs, []string{r.VisitorB}) || len(v.MergedIdentityIDs) != 0 {
		t.Fatalf("visitor record %+v", v)
	}
	if got, want := nonZero(v.Removed), removedRows(before, tableRows(t, s)); !maps.Equal(got, want) {
		t.Errorf("visitor record says it removed %v; the tables lost %v", got, want)
	}

	// An erasure of nothing leaves no record.
	err := s.DeleteIdentity(ctx, r.Bob, collector.EraseOptions{})
	wantCode(t, err, collector.ENOTFOUND)
	if n := len(erasureRecords(t, s)); n != 2 {
		t.Errorf("%d records after erasing an unknown identity, want 2", n)
	}
}

// The list pages newest first with limit and cursor.
func TestFindErasuresPages(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	s := storetest.New(t, store.WithClock(func() time.Time { clock = clock.Add(time.Second); return clock }))
	f := storetest.Seed(t, s)
	for _, id := range []string{f.VisitorB, f.VisitorC} {
		if err := s.DeleteVisitor(ctx, id, collector.EraseOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteIdentity(ctx, f.Alice, collector.EraseOptions{}); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor := ""
	for range 4 {
		recs, next, err := s.FindErasures(ctx, collector.ListOptions{Limit: 1, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			got = append(got, r.SubjectID)
		}
		if cursor = next; cursor == "" {
			break
		}
	}
	if want := []string{f.Alice, f.VisitorC, f.VisitorB}; !slices.Equal(got, want) {
		t.Errorf("pages %v, want %v", got, want)
	}
	_, _, err := s.FindErasures(ctx, collector.ListOptions{Cursor: "bogus"})
	wantCode(t, err, collector.EINVALID)
}

// erasureCrashPoints make one statement of an erasure fail, as a crash
// there would.
var erasureCrashPoints = []string{
	"BEFORE INSERT ON erasures", "BEFORE UPDATE ON identities", "BEFORE DELETE ON webhook_deliveries",
	"BEFORE DELETE ON events", "BEFORE DELETE ON pages", "BEFORE DELETE ON sessions", "BEFORE DELETE ON visit_metadata",
	"BEFORE DELETE ON visit_identities", "BEFORE DELETE ON visits", "BEFORE DELETE ON visitor_data",
	"BEFORE DELETE ON visitors", "BEFORE DELETE ON identity_visitors", "BEFORE DELETE ON identity_aliases",
	"BEFORE DELETE ON identity_merges", "BEFORE DELETE ON identities", "BEFORE UPDATE ON erasures",
}

// On SQLite an erasure that fails anywhere changes nothing and records
// nothing. Without transactions (D1) it stops halfway with its record
// pending; erasing again finishes it under that one record, with the
// counts of the whole erasure, to the state of one that never failed.
func TestErasureCrashHalfway(t *testing.T) {
	ctx := context.Background()
	for _, kind := range []string{collector.SubjectIdentity, collector.SubjectVisitor} {
		erase := func(r *mergeRig) error {
			if kind == collector.SubjectIdentity {
				return r.s.DeleteIdentity(ctx, r.Bob, collector.EraseOptions{TokenID: "tok"})
			}
			return r.s.DeleteVisitor(ctx, r.VisitorA, collector.EraseOptions{TokenID: "tok"})
		}
		ref := newMergeRig(t, store.WithoutTransactions())
		if err := erase(ref); err != nil {
			t.Fatal(err)
		}
		want, wantRec := ref.dump(t), erasureRecords(t, ref.s)[0]
		for _, point := range erasureCrashPoints {
			for _, d1 := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/d1=%v", kind, point, d1), func(t *testing.T) {
					var opts []store.Option
					if d1 {
						opts = append(opts, store.WithoutTransactions())
					}
					r := newMergeRig(t, opts...)
					before := r.dump(t)
					dropCrash := storetest.Crash(t, r.s, "crash", point)
					err := erase(r)
					dropCrash()
					if err == nil {
						return // the statement does not run for this kind
					}
					if !strings.Contains(err.Error(), "crash") {
						t.Fatalf("erasure with a crash: %v", err)
					}
					if recs := erasureRecords(t, r.s); !d1 && (r.dump(t) != before || len(recs) != 0) {
						t.Fatalf("a failed erasure on SQLite left changes or %d records", len(recs))
					}
					if err := erase(r); err != nil {
						t.Fatalf("erasing again: %v", err)
					}
					recs := erasureRecords(t, r.s)
					if len(recs) != 1 {
						t.Fatalf("%d records after the rerun, want 1", len(recs))
					}
					if got := recs[0]; got.State != collector.ErasureDone || !maps.Equal(got.Removed, wantRec.Removed) ||
						!slices.Equal(got.VisitorIDs, wantRec.VisitorIDs) || !slices.Equal(got.MergedIdentityIDs, wantRec.MergedIdentityIDs) {
						t.Errorf("record after the rerun %+v, want as %+v", got, wantRec)
					}
					if got := r.dump(t); got != want {
						t.Errorf("after the rerun:\n%s\nwant:\n%s", got, want)
					}
				})
			}
		}
	}
}
