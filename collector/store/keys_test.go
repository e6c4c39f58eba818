package store_test

import (
	"context"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

// TestVisitorKeys: a visitor's key hash is stored with it and never
// replaced; a visitor stored without one is claimed exactly once, also
// when two requests race on D1.
func TestVisitorKeys(t *testing.T) {
	s := storetest.New(t, store.WithoutTransactions(), store.WithMaxParams(100))
	ctx := context.Background()
	visit := func(visitorID, hash string) {
		t.Helper()
		v := &store.VisitState{VisitID: ulid.Make().String(), VisitorID: visitorID, SessionID: ulid.Make().String(),
			State: protocol.StateAnonymous, StartedAt: 1000, LastSeenAt: 1000, KeyHash: hash}
		if err := s.CreateVisit(ctx, s.DB(), v, store.VisitOrigin{}); err != nil {
			t.Fatal(err)
		}
	}
	keyed, legacy := ulid.Make().String(), ulid.Make().String()
	visit(keyed, "hash-1")
	visit(keyed, "hash-2") // a later visit never replaces the key
	visit(legacy, "")
	if h, found, err := s.VisitorKeyHash(ctx, s.DB(), keyed); err != nil || !found || h != "hash-1" {
		t.Fatalf("keyed visitor: %q %v %v, want hash-1", h, found, err)
	}
	if h, found, err := s.VisitorKeyHash(ctx, s.DB(), legacy); err != nil || !found || h != "" {
		t.Fatalf("legacy visitor: %q %v %v, want found without a key", h, found, err)
	}
	if _, found, err := s.VisitorKeyHash(ctx, s.DB(), ulid.Make().String()); err != nil || found {
		t.Fatalf("unknown visitor found: %v %v", found, err)
	}
	if ok, err := s.ClaimVisitorKey(ctx, s.DB(), keyed, "thief"); err != nil || ok {
		t.Fatalf("claimed a keyed visitor: %v %v", ok, err)
	}
	if ok, err := s.ClaimVisitorKey(ctx, s.DB(), legacy, "first"); err != nil || !ok {
		t.Fatalf("first claim: %v %v", ok, err)
	}
	if ok, err := s.ClaimVisitorKey(ctx, s.DB(), legacy, "second"); err != nil || ok {
		t.Fatalf("second claim won: %v %v", ok, err)
	}
	if h, _, _ := s.VisitorKeyHash(ctx, s.DB(), legacy); h != "first" {
		t.Fatalf("legacy visitor's key %q after the claims, want first", h)
	}
	v, err := s.LoadVisit(ctx, s.DB(), func() string {
		var id string
		s.DB().QueryRow(`SELECT visit_id FROM visits WHERE visitor_id = ? LIMIT 1`, keyed).Scan(&id)
		return id
	}())
	if err != nil || v == nil || v.KeyHash != "hash-1" {
		t.Fatalf("LoadVisit: %+v %v, want the visitor's key hash", v, err)
	}
}

// TestRevokedTokens: a revoked token id stops recognizing; revocations
// are kept until their token expires, then pruned.
func TestRevokedTokens(t *testing.T) {
	s := storetest.New(t, store.WithoutTransactions(), store.WithMaxParams(100))
	ctx := context.Background()
	identityID, err := s.UpsertIdentity(ctx, s.DB(), ulid.Make().String(), "ada", "{}", 1000)
	if err != nil {
		t.Fatal(err)
	}
	valid := func(tokenID string) bool {
		t.Helper()
		ok, err := s.RecognitionValid(ctx, s.DB(), identityID, tokenID)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	if !valid("tok-a") || !valid("tok-b") {
		t.Fatal("a token never revoked is refused")
	}
	if ok, _ := s.RecognitionValid(ctx, s.DB(), ulid.Make().String(), "tok-a"); ok {
		t.Fatal("a token of an unknown identity is valid")
	}
	if err := s.RevokeRecognition(ctx, s.DB(), "tok-a", 5000, 1000); err != nil {
		t.Fatal(err)
	}
	if valid("tok-a") || !valid("tok-b") {
		t.Fatal("revoking tok-a did not refuse it alone")
	}
	// Revoking again, after tok-a expired: its row goes, tok-c's stays.
	if err := s.RevokeRecognition(ctx, s.DB(), "tok-c", 90000, 6000); err != nil {
		t.Fatal(err)
	}
	var n int
	s.DB().QueryRow(`SELECT count(*) FROM revoked_tokens WHERE token_id = 'tok-a'`).Scan(&n)
	if n != 0 {
		t.Fatal("an expired revocation was kept")
	}
	if valid("tok-c") {
		t.Fatal("tok-c is valid after its revocation")
	}
}
