package edge_test

import (
	"context"
	"strings"
	"testing"

	"github.com/visitrack/visitrack/collector/conformance"
	"github.com/visitrack/visitrack/collector/edge"
)

// identitySecret proves the conformance suite's sign-ins (also in the
// wrangler tests, edge_test.go).
const identitySecret = "edge-identity-secret-0123456789"

// TestConformanceFreshInstances runs the suite natively against package
// edge on SQLite with D1's restrictions (no transactions, 100 parameters),
// building the collector anew for every request as a Worker does: whatever
// passes here keeps nothing in memory between requests. The same suite
// runs against the real worker under wrangler dev in test-edge.
func TestConformanceFreshInstances(t *testing.T) {
	ctx := context.Background()
	const origin, admin = "http://shop.example", "vt_edge-sqlite-admin-0123456789"
	env := map[string]string{
		edge.EnvAdminToken:     admin,
		edge.EnvRecognitionKey: strings.Repeat("a7", 32),
		edge.EnvAllowedOrigins: origin,
		edge.EnvIdentitySecret: identitySecret,
	}
	_, st, url := freshWorker(t, env)

	tokens := map[string]string{}
	for _, sc := range conformance.NeededScopes() {
		_, secret, err := st.CreateToken(ctx, []string{sc})
		if err != nil {
			t.Fatal(err)
		}
		tokens[sc] = secret
	}
	conformance.Run(t, conformance.Target{BaseURL: url, AdminToken: admin, Origin: origin, Tokens: tokens, IdentitySecret: identitySecret})
}
