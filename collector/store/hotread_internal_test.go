package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/sqlite"
)

// TestVisitorDataReadPrepared: the visitor data read that every
// /v1/collect answer makes runs a statement prepared once, not a query
// parsed again at each call; on D1 (no transactions, no statements kept)
// it stays a plain query.
func TestVisitorDataReadPrepared(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts []Option
		kept bool
	}{{"native", nil, true}, {"d1", []Option{WithoutTransactions()}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			db, err := sqlite.Open(filepath.Join(t.TempDir(), "v.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			s := New(db, tc.opts...)
			defer s.Close()
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			vd := NewVisitorData(s)
			subject := collector.Subject{Kind: collector.SubjectVisitor, ID: "01JD3Z8Q5N000000000000000V"}
			for range 3 {
				got, err := vd.GetVisitorData(ctx, subject)
				if err != nil {
					t.Fatal(err)
				}
				if got.Version != 0 || string(got.Data) != "{}" {
					t.Fatalf("no document: version %d %s, want 0 {}", got.Version, got.Data)
				}
			}
			s.stmtMu.Lock()
			_, kept := s.stmts[visitorDataTable.read]
			s.stmtMu.Unlock()
			if kept != tc.kept {
				t.Fatalf("statement of the read kept: %v, want %v", kept, tc.kept)
			}
		})
	}
}
