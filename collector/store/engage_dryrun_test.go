package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/visitrack/visitrack/collector/store/storetest"
)

// A dry run replays a visit's events in the History API's order, with
// each page's stored categories, the URL of PageEntered only, and the
// data of the names asked for only; limit bounds the read. It runs on
// both engines (VISITRACK_TEST_DATABASE=postgres).
func TestDryRunEvents(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	f := storetest.Seed(t, s)
	storetest.Exec(t, s, `UPDATE pages SET categories = '["cart"]' WHERE page_id = ?`, f.P2)

	evs, err := s.DryRunEvents(ctx, f.V1, 10, []string{"AddToCart"})
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(evs))
	for _, e := range evs {
		got += fmt.Sprintf(" %s/%s/%s/%q/%q/%d/%v", e.EventID, e.PageID, e.Name, e.URL, e.Data, e.At-f.T0.UnixMilli(), e.Categories)
	}
	want := fmt.Sprintf(`3 %s/%s/VisitStarted/""/""/0/[] %s/%s/PageEntered/"https://shop.example/"/""/1/[] %s/%s/AddToCart/""/"{\"sku\":\"A1\"}"/180000/[cart]`,
		f.E1, f.P1, f.E2, f.P1, f.E3, f.P2)
	if got != want {
		t.Errorf("dry-run events of V1:\n got %s\nwant %s", got, want)
	}

	if evs, err := s.DryRunEvents(ctx, f.V1, 2, nil); err != nil || len(evs) != 2 || evs[1].EventID != f.E2 || evs[1].Data != "" {
		t.Errorf("limit 2 and no data asked: %+v, %v; want E1, E2 without data", evs, err)
	}
	if evs, err := s.DryRunEvents(ctx, "01JDNOSUCHVISIT00000000000", 10, nil); err != nil || len(evs) != 0 {
		t.Errorf("an unknown visit: %+v, %v; want none", evs, err)
	}
}
