package store_test

import (
	"context"
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestAddVisitEvents: counts added by visit key, in a transaction, reach
// exactly their visits, in statements of up to 32 visits padded to a few
// sizes (70 visits: 32, 32 and 6 padded to 8), whatever their order; a
// visit not named keeps its count, and a count without a key is refused.
// On both engines.
func TestAddVisitEvents(t *testing.T) {
	s := storetest.New(t)
	ctx := context.Background()
	const visits = 71 // the last one is never counted
	keys := make([]int64, visits)
	ids := make([]string, visits)
	for i := range keys {
		v := &store.VisitState{VisitID: ulid.Make().String(), VisitorID: ulid.Make().String(), SessionID: ulid.Make().String(),
			State: protocol.StateAnonymous, StartedAt: 1000, LastSeenAt: 1000}
		if err := s.CreateVisit(ctx, s.DB(), v, store.VisitOrigin{}); err != nil {
			t.Fatal(err)
		}
		if v.Key <= 0 {
			t.Fatalf("visit %d: key %d", i, v.Key)
		}
		keys[i], ids[i] = v.Key, v.VisitID
	}
	add := func(counts []store.VisitCount) error {
		tx, err := s.DB().BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.AddVisitEvents(ctx, tx, counts, nil); err != nil {
			tx.Rollback()
			return err
		}
		return tx.Commit()
	}
	// Twice, in reverse order the second time: the counts add up.
	for round := range 2 {
		var counts []store.VisitCount
		for i := visits - 2; i >= 0; i-- {
			counts = append(counts, store.VisitCount{Key: keys[i], N: int64(i + 1)})
		}
		if round == 1 {
			for l, r := 0, len(counts)-1; l < r; l, r = l+1, r-1 {
				counts[l], counts[r] = counts[r], counts[l]
			}
		}
		if err := add(counts); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	for i, id := range ids {
		v, err := s.FindVisit(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		want := 2 * (i + 1)
		if i == visits-1 {
			want = 0
		}
		if v.EventCount != want {
			t.Fatalf("visit %d: eventCount %d; want %d", i, v.EventCount, want)
		}
	}
	err := add([]store.VisitCount{{Key: keys[0], N: 1}, {Key: 0, N: 1}})
	if err == nil || !strings.Contains(err.Error(), "visit key 0") {
		t.Fatalf("a count without a key: %v; want it refused", err)
	}
}
