package edge_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/conformance"
	"github.com/visitrack/visitrack/collector/edge"
	"github.com/visitrack/visitrack/collector/store/sqlite"
)

// TestConformanceFreshInstances runs the suite natively against package
// edge on SQLite with D1's restrictions (no transactions, 100 parameters),
// building the collector anew for every request as a Worker does: whatever
// passes here keeps nothing in memory between requests. The same suite
// runs against the real worker under wrangler dev in test-edge.
func TestConformanceFreshInstances(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(filepath.Join(t.TempDir(), "edge.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	st := edge.OpenStore(db)
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	const origin, admin = "http://shop.example", "vt_edge-sqlite-admin-0123456789"
	env := map[string]string{
		edge.EnvAdminToken:     admin,
		edge.EnvRecognitionKey: strings.Repeat("a7", 32),
		edge.EnvAllowedOrigins: origin,
	}
	logger := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, err := edge.New(r.Context(), db, func(k string) string { return env[k] }, logger)
		if err != nil {
			edge.Unavailable(err).ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)

	tokens := map[string]string{}
	for _, sc := range conformance.NeededScopes {
		_, secret, err := st.CreateToken(ctx, []string{sc})
		if err != nil {
			t.Fatal(err)
		}
		tokens[sc] = secret
	}
	conformance.Run(t, conformance.Target{BaseURL: srv.URL, AdminToken: admin, Origin: origin, Tokens: tokens})
}
