package store_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/visitrack/visitrack/collector"
	"github.com/visitrack/visitrack/collector/store"
	"github.com/visitrack/visitrack/collector/store/storetest"
	"github.com/visitrack/visitrack/shared/protocol"
)

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	s := storetest.New(t, store.WithClock(func() time.Time { return now }))

	tok, secret, err := s.CreateToken(ctx, []string{"history:read", "visitordata:write:campaign"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, "vt_") || len(secret) != 3+43 {
		t.Errorf("secret %q: want vt_ and 43 base64url characters", secret)
	}
	if !protocol.IsULID(tok.TokenID) || !tok.CreatedAt.Equal(now) || tok.RevokedAt != nil ||
		!slices.Equal(tok.Scopes, []string{"history:read", "visitordata:write:campaign"}) {
		t.Errorf("token %+v", tok)
	}

	// Only the SHA-256 of the secret is stored.
	sum := sha256.Sum256([]byte(secret))
	if storetest.Count(t, s, "tokens", "hash = ?", hex.EncodeToString(sum[:])) != 1 {
		t.Error("hex SHA-256 of the secret not stored")
	}
	if n := storetest.Count(t, s, "tokens", "hash = ? OR token_id = ? OR scopes LIKE ? OR hash LIKE ?",
		secret, secret, "%"+secret[3:]+"%", "%"+secret[3:]+"%"); n != 0 {
		t.Error("the secret itself is stored")
	}

	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.TokenID != tok.TokenID || !got.HasScope("history:read") || got.HasScope("history:delete") ||
		!got.HasScope("visitordata:write:campaign") || got.HasScope("visitordata:write:other") {
		t.Fatalf("Authenticate: %+v %v", got, err)
	}
	for _, bad := range []string{"", "vt_", secret + "x", strings.ToUpper(secret), hex.EncodeToString(sum[:])} {
		if _, err := s.Authenticate(ctx, bad); collector.ErrorCode(err) != collector.EUNAUTHORIZED {
			t.Errorf("Authenticate(%q): %v, want EUNAUTHORIZED", bad, err)
		}
	}

	other, otherSecret, err := s.CreateToken(ctx, []string{"admin"})
	if err != nil || otherSecret == secret || other.TokenID == tok.TokenID {
		t.Fatalf("second token: %+v %v", other, err)
	}

	revokedAt := now.Add(time.Hour)
	now = revokedAt
	if err := s.RevokeToken(ctx, tok.TokenID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, secret); collector.ErrorCode(err) != collector.EUNAUTHORIZED {
		t.Errorf("revoked token authenticates: %v", err)
	}
	now = now.Add(time.Hour)
	if err := s.RevokeToken(ctx, tok.TokenID); err != nil {
		t.Errorf("revoking twice: %v", err)
	}
	if err := s.RevokeToken(ctx, storetest.ID(9, 1)); collector.ErrorCode(err) != collector.ENOTFOUND {
		t.Errorf("revoke unknown: %v, want ENOTFOUND", err)
	}

	list, err := s.ListTokens(ctx)
	if err != nil || len(list) != 2 || list[0].TokenID != tok.TokenID || list[1].TokenID != other.TokenID {
		t.Fatalf("ListTokens: %v %v", list, err)
	}
	if list[0].RevokedAt == nil || !list[0].RevokedAt.Equal(revokedAt) || list[1].RevokedAt != nil {
		t.Errorf("revocation times %v %v: the first revocation counts", list[0].RevokedAt, list[1].RevokedAt)
	}
	if _, err := s.Authenticate(ctx, otherSecret); err != nil {
		t.Errorf("the other token was revoked too: %v", err)
	}
}

func TestCreateTokenScopes(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	for _, ok := range [][]string{{"history:read"}, {"history:delete", "metadata:read", "metadata:write", "notify:write"},
		{"visitordata:read", "visitordata:write:*", "visitordata:write:a_1"}, {"admin"}} {
		if _, _, err := s.CreateToken(ctx, ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]string{nil, {}, {"history"}, {"history:read", "root"}, {"visitordata:write:"},
		{"visitordata:write:Bad-Name"}, {""}, {"notify"}, {"notify:read"}} {
		if _, _, err := s.CreateToken(ctx, bad); collector.ErrorCode(err) != collector.EINVALID {
			t.Errorf("%q: %v, want EINVALID", bad, err)
		}
	}
	if n := storetest.Count(t, s, "tokens", ""); n != 4 {
		t.Errorf("%d tokens stored, want 4", n)
	}
}

func TestEnsureToken(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	const secret = "an-admin-secret-from-the-environment"

	first, err := s.EnsureToken(ctx, secret, []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.EnsureToken(ctx, secret, []string{"admin"})
	if err != nil || again.TokenID != first.TokenID || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("second EnsureToken: %+v %v, want the same token %s", again, err, first.TokenID)
	}
	if n := storetest.Count(t, s, "tokens", ""); n != 1 {
		t.Errorf("%d tokens, want 1", n)
	}
	got, err := s.Authenticate(ctx, secret)
	if err != nil || got.TokenID != first.TokenID || !got.HasScope("history:delete") {
		t.Fatalf("Authenticate: %+v %v", got, err)
	}

	// New scopes replace the old ones.
	if _, err := s.EnsureToken(ctx, secret, []string{"history:read"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Authenticate(ctx, secret); got == nil || got.HasScope("admin") || !got.HasScope("history:read") {
		t.Errorf("scopes not replaced: %+v", got)
	}

	// A revocation survives a restart that ensures the token again.
	if err := s.RevokeToken(ctx, first.TokenID); err != nil {
		t.Fatal(err)
	}
	ensured, err := s.EnsureToken(ctx, secret, []string{"admin"})
	if err != nil || ensured.RevokedAt == nil {
		t.Errorf("revoked token after EnsureToken: %+v %v", ensured, err)
	}
	if _, err := s.Authenticate(ctx, secret); collector.ErrorCode(err) != collector.EUNAUTHORIZED {
		t.Errorf("revoked ensured token authenticates: %v", err)
	}

	if _, err := s.EnsureToken(ctx, "short", []string{"admin"}); collector.ErrorCode(err) != collector.EINVALID {
		t.Errorf("short secret: %v", err)
	}
	if _, err := s.EnsureToken(ctx, secret+"2", []string{"everything"}); collector.ErrorCode(err) != collector.EINVALID {
		t.Errorf("bad scope: %v", err)
	}
}
