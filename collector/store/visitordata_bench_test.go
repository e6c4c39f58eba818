package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
)

// Namespace PATCH throughput on a real SQLite file (WAL,
// synchronous=NORMAL), with writers in parallel (GOMAXPROCS goroutines, 4
// per proc). Run with: make bench-visitordata.

// BenchmarkPatchNamespaceHotSubject: every writer patches one of 8
// namespaces of the same identity, the worst case for contention.
func BenchmarkPatchNamespaceHotSubject(b *testing.B) {
	s := storetest.New(b)
	vd := store.NewVisitorData(s)
	alice := vdAddIdentity(b, s, storetest.ID(2, 1))
	benchPatches(b, vd, func(int64) collector.Subject { return alice })
	got, _ := vd.GetVisitorData(context.Background(), alice)
	if got.Version < int64(b.N) {
		b.Fatalf("version %d after %d patches", got.Version, b.N)
	}
}

// BenchmarkPatchNamespace10kSubjects: writers spread over 10,000
// identities.
func BenchmarkPatchNamespace10kSubjects(b *testing.B) {
	s := storetest.New(b)
	vd := store.NewVisitorData(s)
	const n = 10000
	subjects := make([]collector.Subject, n)
	tx, err := s.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	for i := range subjects {
		id := storetest.ID(2, i+1)
		if _, err := tx.Exec(`INSERT INTO identities (identity_id, user_id, first_seen_at, last_seen_at) VALUES (?, ?, 0, 0)`, id, "u"+id); err != nil {
			b.Fatal(err)
		}
		subjects[i] = collector.Subject{Kind: collector.SubjectIdentity, ID: id}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	benchPatches(b, vd, func(i int64) collector.Subject { return subjects[i%n] })
}

func benchPatches(b *testing.B, vd *store.VisitorData, subject func(int64) collector.Subject) {
	ctx := context.Background()
	var seq atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := seq.Add(1)
			ns := fmt.Sprintf("system_%d", i%8)
			patch := json.RawMessage(fmt.Sprintf(`{"n":%d,"seen":true,"tags":["a","b"]}`, i))
			if _, err := vd.PatchNamespace(ctx, subject(i), ns, patch, nil); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "patches/s")
}
